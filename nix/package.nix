# hyperhive as a Nix package: the wheel pyproject.toml describes, built by
# nixpkgs' Python tooling from nixpkgs' own Python packages, with the man
# pages installed and the UIs' browser libraries from npm (./web-assets.nix).
# Name, version and dependencies are read from pyproject.toml, so the two
# cannot drift.
{ lib
, python3Packages
, callPackage
, fetchFromGitHub
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
  # it is older than pyproject.toml's minimum, build that version instead. Its
  # source hash is nixpkgs' placeholder (lib.fakeHash): the first build fails
  # with "hash mismatch ... got: sha256-...", and that hash goes here.
  sdkMinimum = (lib.findFirst (r: r.name == "claude-agent-sdk") null requirements).minimum;
  claudeAgentSdkHash = lib.fakeHash;
  claude-agent-sdk =
    let sdk = python3Packages.claude-agent-sdk;
    in if lib.versionAtLeast sdk.version sdkMinimum then sdk
    else sdk.overridePythonAttrs (_: {
      version = sdkMinimum;
      src = fetchFromGitHub {
        owner = "anthropics";
        repo = "claude-agent-sdk-python";
        tag = "v${sdkMinimum}";
        hash = claudeAgentSdkHash;
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
