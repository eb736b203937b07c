# agent.nix: the NixOS system of this agent's container (the nixos backend;
# the nspawn backend does not read it). See hyperhive-nixos(5).
#
# The manager proposes changes to this file as commits in the agent's config
# repo, as it does agent.toml's; they take effect once the operator approves
# them. flake.nix beside it builds this file with hyperhive's harness module.
{ hyperhive, pkgs, ... }:
{
  imports = [ hyperhive.nixosModules.harness ];
  nixpkgs.overlays = [ hyperhive.overlays.default ];

  # claude-code is unfree: flake.nix allows it here exactly when the host's
  # operator allowed it in the host's own nixpkgs config (hyperhive-nixos(5)).

  # The programs agent.toml's mcp_servers name, under /run/current-system/sw/bin:
  # services.hive-harness.mcpServerPackages = [ pkgs.github-mcp-server ];

  # Programs the agent's Bash may find on its PATH (agent.toml's allowed_bash
  # still says which commands it may run):
  # services.hive-harness.packages = [ pkgs.ripgrep ];

  system.stateVersion = "25.11";
}
