# The UIs' browser libraries (xterm.js, htmx and its SSE extension) from npm,
# through nixpkgs' npm tooling and web/package-lock.json: each tarball is
# fetched by the lock file's own integrity hash (importNpmLock), so there is
# no dependency hash to keep up to date. The output holds web/vendor-files'
# targets at their checkout paths (hive_ag3nt/ui/static/vendor/...,
# hive_c0re/dashboard/static/vendor/...), for the package to copy in before
# it builds its wheel.
{ lib, buildNpmPackage, importNpmLock }:
let
  web = ../web;
  lock = lib.importJSON (web + "/package-lock.json");

  # npm leaves `resolved` out of a lock file written with
  # omit-lockfile-registry-resolved, and importNpmLock fetches only what has
  # one: put back the registry's tarball address, which npm derives the same way.
  tarball = path: module:
    let name = lib.last (lib.splitString "node_modules/" path);
    in "https://registry.npmjs.org/${name}/-/${baseNameOf name}-${module.version}.tgz";
  withResolved = path: module:
    if path == "" || module ? resolved || module.link or false then module
    else module // { resolved = tarball path module; };
  packageLock = lock // { packages = lib.mapAttrs withResolved lock.packages; };

  vendorFiles =
    let
      lines = lib.splitString "\n" (builtins.readFile (web + "/vendor-files"));
      entries = lib.filter (line: line != "" && !lib.hasPrefix "#" line) lines;
      parse = line:
        let words = lib.splitString " " line;
        in assert lib.assertMsg (builtins.length words == 2)
          "web/vendor-files: '${line}' is not 'NODE_MODULES_PATH CHECKOUT_PATH'";
          { from = builtins.elemAt words 0; to = builtins.elemAt words 1; };
    in
    map parse entries;
in
buildNpmPackage {
  pname = "hyperhive-web";
  inherit (lock) version;
  src = lib.cleanSourceWith {
    src = web;
    filter = path: _type: builtins.elem (baseNameOf path) [ "package.json" "package-lock.json" ];
  };
  npmDeps = importNpmLock { npmRoot = web; inherit packageLock; };
  inherit (importNpmLock) npmConfigHook;
  dontNpmBuild = true;
  installPhase = ''
    runHook preInstall
    ${lib.concatMapStrings (file: ''
      install -D -m 0644 node_modules/${file.from} $out/${file.to}
    '') vendorFiles}
    runHook postInstall
  '';
  passthru = { inherit vendorFiles; };
  meta.description = "The browser libraries of hyperhive's agent UI and dashboard";
}
