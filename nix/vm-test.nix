# The NixOS VM test (`nix build .#checks.x86_64-linux.vm`; it needs KVM and
# nixpkgs): one host with the hive-c0re module on the nixos backend, the
# demo's stand-in model as a unit in place of Claude, then what an operator
# does first: spawn alice, write to her and read her answer, see her crash
# reported when her container is killed from outside, and log in to the
# dashboard with the code `hive-c0re dashboard login` prints.
{ self, nixpkgs, pkgs }:
let
  inherit (pkgs) lib hyperhive;
  modelPort = 8099;
  dashboardPort = 7000;

  # The stand-in model lives in the development tree (hive_dev), not the package.
  developmentTree = lib.cleanSourceWith {
    src = lib.cleanSource ../.;
    filter = path: _type:
      let relative = lib.removePrefix (toString ../. + "/") (toString path);
      in relative == "hive_dev" || lib.hasPrefix "hive_dev/" relative;
    name = "hyperhive-development-tree";
  };
  python = pkgs.python3.withPackages (_: hyperhive.pythonDependencies);
in
{
  name = "hyperhive";

  nodes.host = { ... }: {
    imports = [ self.nixosModules.hive-c0re ];

    virtualisation.memorySize = 4096;
    virtualisation.diskSize = 8192;
    virtualisation.cores = 2;
    # An agent's container is built inside the VM from its flake.
    virtualisation.writableStore = true;
    nix.settings.experimental-features = [ "nix-command" "flakes" ];
    # The VM has no network: an agent's flake finds hyperhive through the
    # registry entry services.hive-c0re.flake makes, and hyperhive's locked
    # nixpkgs as a store path the VM's Nix knows.
    virtualisation.additionalPaths = [ nixpkgs.outPath ];
    boot.enableContainers = true;

    services.hive-c0re = {
      enable = true;
      package = hyperhive;
      backend = "nixos";
      flake = self;
      agentEnvironmentFile = "/etc/hyperhive/agent.env";
      dashboard.enable = true;
      dashboard.port = dashboardPort;
    };

    # Any key will do: the model is the stand-in on the host's loopback.
    environment.etc."hyperhive/agent.env" = {
      text = ''
        ANTHROPIC_BASE_URL=http://127.0.0.1:${toString modelPort}
        ANTHROPIC_API_KEY=stand-in
      '';
      mode = "0600";
    };

    systemd.services.hyperhive-stand-in-model = {
      description = "hyperhive's stand-in Messages API (the demo's model, not Claude)";
      wantedBy = [ "multi-user.target" ];
      before = [ "hive-c0re.service" ];
      environment.PYTHONPATH = "${developmentTree}:${hyperhive}/${pkgs.python3.sitePackages}";
      serviceConfig = {
        ExecStart = lib.concatStringsSep " " [
          "${python}/bin/python -m hive_dev.demo.model"
          "--host 127.0.0.1"
          "--port ${toString modelPort}"
        ];
        DynamicUser = true;
      };
    };
  };

  testScript = ''
    import json
    import re

    def hive(command):
        return json.loads(host.succeed(f"hive-c0re --json {command}"))

    start_all()
    host.wait_for_unit("hyperhive-stand-in-model.service")
    host.wait_for_open_port(${toString modelPort})
    host.wait_for_unit("hive-c0re.socket")

    with subtest("alice is spawned through the nixos backend"):
        # Her flake takes claude-code's allowance from the host's (unfree) decision.
        registry = json.loads(host.succeed("cat /etc/nix/registry.json"))
        unfree = [f for f in registry["flakes"] if f["from"]["id"] == "hyperhive-unfree"]
        assert unfree, registry
        host.succeed(f"grep -q 'lib.getName pkg == \"claude-code\"' {unfree[0]['to']['path']}/flake.nix")
        host.succeed("hive-c0re spawn alice")
        host.wait_for_unit("container@h-alice.service", timeout=900)
        host.wait_until_succeeds(
            "hive-c0re --json status alice | grep -q '\"idle\"'", timeout=300)

    with subtest("a message is answered"):
        host.succeed("hive-c0re send alice 'hello from the VM test'")
        host.wait_until_succeeds(
            "hive-c0re --json inbox | grep -q 'alice here: I got your message'", timeout=300)

    with subtest("a crash is reported"):
        host.succeed("systemctl kill --signal=SIGKILL container@h-alice.service")
        host.wait_until_succeeds(
            "hive-c0re --json mail manager | grep -q container_crash", timeout=120)

    with subtest("the dashboard logs an operator in"):
        login = host.succeed("hive-c0re dashboard login").strip()
        code = re.search(r"/login\?code=(\S+)", login).group(1)
        headers = host.succeed(
            "curl --silent --output /dev/null --dump-header - "
            f"'http://127.0.0.1:${toString dashboardPort}/login?code={code}'")
        assert " 303" in headers.splitlines()[0], headers
        assert "hive_session=" in headers, headers
        assert hive("agents")["agents"], "the agents table is empty"
  '';
}
