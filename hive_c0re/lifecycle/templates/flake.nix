# flake.nix: what the nixos backend builds agent @AGENT@'s container from
# (nixosConfigurations.@AGENT@). Its system is agent.nix; hyperhive and
# nixpkgs are the host's own, through the "hyperhive" entry of the host's
# flake registry (services.hive-c0re.flake sets it).
{
  inputs.hyperhive.url = "flake:hyperhive";
  inputs.nixpkgs.follows = "hyperhive/nixpkgs";

  outputs = { nixpkgs, hyperhive, ... }: {
    nixosConfigurations."@AGENT@" = nixpkgs.lib.nixosSystem {
      system = "@SYSTEM@";
      specialArgs = { inherit hyperhive; };
      modules = [ ./agent.nix ];
    };
  };
}
