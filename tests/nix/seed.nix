# Evaluate a seeded config repo's flake.nix as the nixos backend has NixOS do
# it: its outputs called with a stand-in hyperhive (this checkout's modules)
# and a nixpkgs whose nixosSystem is the real module system over the NixOS
# option declarations, and the flake the host registered as hyperhive-unfree
# (a directory); print each configuration's system, harness unit and what its
# nixpkgs config allows.
{ lib, repo, unfree }:
let
  hyperhive = {
    nixosModules.harness = import ../../nixos/modules/harness.nix;
    overlays.default = final: prev: { };
  };
  nixosSystem = { system, modules, specialArgs ? { } }:
    lib.evalModules {
      modules = [ ./nixos-options.nix { _module.args.pkgs = import ./pkgs.nix; } ] ++ modules;
      inherit specialArgs;
    } // { inherit system; };
  flake = import (repo + "/flake.nix");
  unfreeFlake = (import (unfree + "/flake.nix")).outputs { self = unfreeFlake; };
  outputs = flake.outputs {
    self = outputs; nixpkgs.lib = lib // { inherit nixosSystem; }; inherit hyperhive;
    unfree = unfreeFlake;
  };
  # nixpkgs' question for an unfree package: allowUnfree, else the predicate.
  allows = config: pkg: config.allowUnfree
    || (config.allowUnfreePredicate != null && config.allowUnfreePredicate pkg);
in
{
  inputs = lib.mapAttrs (name: input: input.url or input.follows or null) flake.inputs;
  configurations = lib.mapAttrs (name: built: {
    inherit (built) system;
    services = built.config.systemd.services;
    inherit (built.config.boot) isNspawnContainer;
    inherit (built.config.system) stateVersion;
    overlays = builtins.length built.config.nixpkgs.overlays;
    unfree = {
      inherit (built.config.nixpkgs.config) allowUnfree;
      claudeCode = allows built.config.nixpkgs.config (import ./pkgs.nix).claude-code;
      # Any other unfree package: the allowance names claude-code alone.
      other = allows built.config.nixpkgs.config { pname = "vscode"; name = "vscode-1.99.0"; };
    };
  }) outputs.nixosConfigurations;
}
