# hyperhive as a Nix package: the wheel pyproject.toml describes, built by
# nixpkgs' Python tooling from nixpkgs' own Python packages, with the man
# pages installed and the UIs' browser libraries from npm (./web-assets.nix).
# Name, version and dependencies are read from pyproject.toml, so the two
# cannot drift.
{ lib
, python3Packages
, callPackage
, fetchPypi
, installShellFiles
, webAssets ? callPackage ./web-assets.nix { }
}:
let
  pyproject = (builtins.fromTOML (builtins.readFile ../pyproject.toml)).project;

  # "aiohttp-jinja2>=1.6" -> { name = "aiohttp-jinja2"; minimum = "1.6"; }
  requirement = spec:
    let
      parts = builtins.match "([A-Za-z0-9._-]+)[^>]*(>=([0-9.]+))?.*" spec;
    in
    { name = lib.toLower (builtins.elemAt parts 0); minimum = builtins.elemAt parts 2; };
  requirements = map requirement pyproject.dependencies;

  # nixpkgs' claude-agent-sdk lags the SDK hyperhive is written against: where
  # it is older than pyproject.toml's minimum, build that version from its
  # PyPI sdist. A new minimum needs its sdist's hash here: `nix-prefetch-url
  # https://files.pythonhosted.org/packages/source/c/claude_agent_sdk/claude_agent_sdk-VERSION.tar.gz`
  # (then `nix hash to-sri --type sha256 HASH`), or lib.fakeHash once and the
  # hash the failed build prints.
  sdkSources = {
    "0.2.187" = "sha256-QFWPEzy1coaYlSHWtOia+x+5qFMmjQCXFtNdepWAriE=";
  };
  sdkMinimum = (lib.findFirst (r: r.name == "claude-agent-sdk") null requirements).minimum;
  claude-agent-sdk =
    let sdk = python3Packages.claude-agent-sdk;
    in if lib.versionAtLeast sdk.version sdkMinimum then sdk
    else sdk.overridePythonAttrs (old: {
      version = sdkMinimum;
      src = fetchPypi {
        pname = "claude_agent_sdk";
        version = sdkMinimum;
        hash = sdkSources.${sdkMinimum} or (throw ''
          nix/package.nix: pyproject.toml asks for claude-agent-sdk >= ${sdkMinimum}, nixpkgs has
          ${sdk.version}, and sdkSources has no hash for ${sdkMinimum}: add it (see the comment there).
        '');
      };
      # 0.2 added these; nixpkgs' 0.1 derivation does not list them.
      dependencies = old.dependencies or [ ] ++ [ python3Packages.jsonschema python3Packages.sniffio ];
      # The SDK's own suite follows its repository, not the sdist this builds
      # from; importing it is the check that stays meaningful.
      doCheck = false;
      pythonImportsCheck = [ "claude_agent_sdk" ];
      # nixpkgs' changelog link names the GitHub tag of its own source.
      meta = old.meta or { } // {
        changelog = "https://github.com/anthropics/claude-agent-sdk-python/blob/v${sdkMinimum}/CHANGELOG.md";
      };
    });

  pythonPackage = name:
    if name == "claude-agent-sdk" then claude-agent-sdk else python3Packages.${name};
  dependencies = map (r: pythonPackage r.name) requirements;

  # What the wheel is built from: the three packages, the man pages and the
  # build metadata; not the tests, the checkout's tooling or a local .venv.
  shipped = [ "pyproject.toml" "README.md" "hive_c0re" "hive_ag3nt" "hive_m1nd" "man" ];
  src = lib.cleanSourceWith {
    src = lib.cleanSource ../.;
    filter = path: type:
      let relative = lib.removePrefix (toString ../. + "/") (toString path);
      in builtins.any (top: relative == top || lib.hasPrefix "${top}/" relative) shipped
        && !(type == "directory" && baseNameOf path == "__pycache__")
        && !(lib.hasInfix "/static/vendor/" relative);
    name = "hyperhive-source";
  };
in
python3Packages.buildPythonApplication {
  pname = pyproject.name;
  inherit (pyproject) version;
  pyproject = true;
  inherit src;
  build-system = [ python3Packages.hatchling ];
  inherit dependencies;
  nativeBuildInputs = [ installShellFiles ];

  # The wheel ships the browser libraries (pyproject's artifacts): put them
  # where the checkout would have them before hatchling runs.
  preBuild = ''
    cp -r --no-preserve=mode ${webAssets}/. ./
  '';
  postInstall = ''
    installManPage man/*.[1-8]
  '';
  # The programs' packages, and every module the daemon starts as a child of
  # its own interpreter (hive_c0re.interpreter.module_argv): imported from the
  # installed package, as they will be.
  pythonImportsCheck = [ "hive_c0re" "hive_ag3nt" "hive_m1nd" "hive_c0re.egress" ];

  passthru = {
    inherit webAssets;
    # The interpreter's modules, for running the checkout's development tools
    # (the VM test's stand-in model) beside the package.
    pythonDependencies = dependencies;
  };

  meta = {
    inherit (pyproject) description;
    license = lib.licenses.mit;
    platforms = lib.platforms.linux;
    mainProgram = "hive-c0re";
  };
}
