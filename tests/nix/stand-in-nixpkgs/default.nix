# The stand-in package set: `import nixpkgs { system; config; overlays; }`.
# Every package is a trivial derivation (it builds with /bin/sh) that keeps
# the arguments it was given as attributes, so a test can read back what
# hyperhive's flake asked for. `config` is kept as given, and each package
# records it (standInConfig): the tests read which config an overlay imported
# this set with.
{ system, config ? { }, overlays ? [ ] }:
let
  lib = import ./lib;

  # What can live in a derivation's environment: no functions, no passthru.
  recordable = args: lib.filterAttrs (name: value: name != "passthru" && !lib.isFunction value) args;

  standIn = { name, ... }@args:
    let
      drv = derivation {
        inherit system;
        name = lib.strings.sanitizeDerivationName name;
        builder = "/bin/sh";
        args = [ "-c" "echo stand-in > $out" ];
        # Forces every argument (sources, dependencies) to evaluate, as nixpkgs would.
        standInArgs = builtins.toJSON (recordable args);
      };
    in
    args // (args.passthru or { }) // {
      inherit (drv) drvPath outPath type outputName;
      all = [ drv ];
      standInConfig = config;
    };

  package = pname: version: extra:
    standIn ({ name = "${pname}-${version}"; inherit pname version; meta = { }; } // extra);

  # nixpkgs' pythonPackages.* with overridePythonAttrs, kept to what the flake calls.
  pythonPackage = args:
    let
      self = standIn (args // { name = "python3.13-${args.pname}-${args.version}"; });
    in
    self // {
      overridePythonAttrs = f: pythonPackage (args // (if lib.isFunction f then f args else f));
    };

  buildPythonApplication = args:
    assert lib.assertMsg (args.pyproject or false)
      "buildPythonApplication: set `pyproject = true` (the format argument is gone)";
    assert lib.assertMsg (args ? build-system) "buildPythonApplication: no build-system given";
    assert lib.assertMsg (args ? pname && args ? version && args ? src)
      "buildPythonApplication: pname, version and src are required";
    pythonPackage ({ dependencies = [ ]; nativeBuildInputs = [ ]; meta = { }; } // args);

  pyLib = pname: version: pythonPackage { inherit pname version; meta = { }; };

  python3Packages = {
    inherit buildPythonApplication;
    hatchling = pyLib "hatchling" "1.27.0";
    click = pyLib "click" "8.2.1";
    peewee = pyLib "peewee" "3.18.2";
    rich = pyLib "rich" "14.1.0";
    systemd-python = pyLib "systemd-python" "235";
    pystemd = pyLib "pystemd" "0.13.4";
    aiohttp = pyLib "aiohttp" "3.12.15";
    mcp = pyLib "mcp" "1.23.1";
    # nixpkgs lags the version hyperhive needs: the flake overrides it.
    claude-agent-sdk = pythonPackage {
      pname = "claude-agent-sdk";
      version = "0.1.44";
      dependencies = [ python3Packages.mcp ];
      meta.changelog = throw "nixpkgs' changelog names its own source's GitHub tag";
    };
    jinja2 = pyLib "jinja2" "3.1.6";
    aiohttp-jinja2 = pyLib "aiohttp-jinja2" "1.6";
    aiohttp-sse = pyLib "aiohttp-sse" "2.2.0";
    unidiff = pyLib "unidiff" "0.7.5";
    pygments = pyLib "pygments" "2.19.2";
    jsonschema = pyLib "jsonschema" "4.25.1";
    sniffio = pyLib "sniffio" "1.3.1";
  };

  base = self: {
    inherit lib config python3Packages;
    stdenv.hostPlatform.system = system;

    callPackage = fn: overrides:
      let f = if lib.isFunction fn then fn else import fn;
      in f (builtins.intersectAttrs (lib.functionArgs f) self // overrides);

    python3 = package "python3" "3.13.7" { } // {
      pkgs = python3Packages;
      sitePackages = "lib/python3.13/site-packages";
      withPackages = choose: package "python3-env" "3.13.7" { packages = choose python3Packages; };
    };

    fetchPypi = { pname, version, hash }: package "${pname}-${version}.tar.gz" version {
      inherit pname hash;
    };

    installShellFiles = package "install-shell-files" "0" { };
    importNpmLock = {
      __functor = _: { npmRoot, packageLock ? lib.importJSON (npmRoot + "/package-lock.json") }:
        package "npm-lock-sources" "0" { inherit npmRoot; lock = builtins.toJSON packageLock; };
      npmConfigHook = package "npm-config-hook" "0" { };
    };
    buildNpmPackage = { pname, version, src, npmDeps, ... }@args:
      package pname version (builtins.removeAttrs args [ "pname" "version" ]);

    git = package "git" "2.51.0" { meta.mainProgram = "git"; };
    claude-code = package "claude-code" "2.0.76" {
      meta = { license = lib.licenses.unfree; mainProgram = "claude"; };
    };
    runCommand = name: env: script: standIn (env // { inherit name script; });

    testers.runNixOSTest = import ./nixos-test.nix { inherit lib; pkgs = self; };
  };
in
lib.fix (lib.foldl' (lib.flip lib.extends) base overlays)
