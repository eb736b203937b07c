# The host's operator has not allowed claude-code, so the hive's agents are not
# allowed it either: services.hive-c0re registers this flake as
# `hyperhive-unfree` then (and warns on the host, saying what to set). Its
# module sets nothing; nixpkgs refuses claude-code in an agent's build.
{
  description = "hyperhive's agents: no unfree package allowed, as the host's operator allowed none";

  outputs = { self }: {
    nixosModules.default = { };
  };
}
