# Evaluate a seeded config repo's flake.nix as the nixos backend has NixOS do
# it: its outputs called with a stand-in hyperhive (this checkout's modules)
# and a nixpkgs whose nixosSystem is the real module system over the NixOS
# option declarations; print each configuration's system and harness unit.
{ lib, repo }:
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
  outputs = flake.outputs { self = outputs; nixpkgs.lib = lib // { inherit nixosSystem; }; inherit hyperhive; };
in
{
  inputs = lib.mapAttrs (name: input: input.url or input.follows or null) flake.inputs;
  configurations = lib.mapAttrs (name: built: {
    inherit (built) system;
    services = built.config.systemd.services;
    inherit (built.config.boot) isNspawnContainer;
    inherit (built.config.system) stateVersion;
    overlays = builtins.length built.config.nixpkgs.overlays;
    unfree = built.config.nixpkgs.config.allowUnfree || built.config.nixpkgs.config.allowUnfreePredicate != null;
  }) outputs.nixosConfigurations;
}
