# The host's operator allowed claude-code (nixpkgs.config on the host), so the
# hive's agents may have it too. services.hive-c0re registers this flake as
# `hyperhive-unfree` only then; every agent's seeded flake.nix imports its
# module. It allows claude-code by name and no other unfree package.
{
  description = "hyperhive's agents: claude-code allowed, as the host's operator allowed it";

  outputs = { self }: {
    nixosModules.default = { lib, ... }: {
      nixpkgs.config.allowUnfreePredicate = pkg: lib.getName pkg == "claude-code";
    };
  };
}
