# flake.nix: what the nixos backend builds this agent's container from
# (nixosConfigurations.agent; the manager's, nixosConfigurations.manager). Its system is agent.nix; hyperhive and
# nixpkgs are the host's own, through the "hyperhive" entry of the host's
# flake registry (services.hive-c0re.flake sets it).
{
  inputs.hyperhive.url = "flake:hyperhive";
  inputs.nixpkgs.follows = "hyperhive/nixpkgs";
  # The host operator's word on claude-code, which is unfree: allowed here
  # exactly when the host allows it (services.hive-c0re registers this entry).
  inputs.unfree.url = "flake:hyperhive-unfree";

  outputs = { nixpkgs, hyperhive, unfree, ... }:
    let
      container = modules: nixpkgs.lib.nixosSystem {
        system = "@SYSTEM@";
        specialArgs = { inherit hyperhive; };
        modules = [ ./agent.nix unfree.nixosModules.default ] ++ modules;
      };
    in
    {
      nixosConfigurations.agent = container [ ];
      # The manager's own repo is seeded alike; its container runs hive-m1nd.
      nixosConfigurations.manager = container [ { services.hive-harness.role = "manager"; } ];
    };
}
