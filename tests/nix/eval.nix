# Evaluate hyperhive's modules with nixpkgs' own module system against the
# declarations in nixos-options.nix; print what the tests check, as JSON.
#   nix-instantiate --eval --strict --json tests/nix/eval.nix \
#     --arg lib 'import <nixpkgs-lib>' --arg module '{ services.hive-c0re.enable = true; }'
# Failed assertions abort evaluation as NixOS's top level does.
{ lib, module ? { }, modules ? [ ../../nixos/modules/hive-c0re.nix ../../nixos/modules/harness.nix ]
, specialArgs ? { } }:
let
  # As NixOS does: pkgs is imported with the system's nixpkgs.config.
  pkgsModule = { config, ... }: {
    _module.args.pkgs = import ./pkgs.nix // { inherit (config.nixpkgs) config; };
  };
  evaluated = lib.evalModules {
    modules = [ ./nixos-options.nix pkgsModule module ] ++ modules;
    inherit specialArgs;
  };
  inherit (evaluated) config options;
  failed = map (a: a.message) (builtins.filter (a: !a.assertion) config.assertions);
  checked = if failed == [ ] then config
    else throw "Failed assertions:\n${lib.concatMapStrings (m: "- ${m}\n") failed}";
in
{
  inherit (checked) systemd environment networking boot users warnings;
  # A path as written (the system's registry.json copies it into the store).
  registry = lib.mapAttrs (name: entry:
    let to = entry.flake.outPath or null; in if builtins.isPath to then toString to else to)
    checked.nix.registry;
  overlays = builtins.length checked.nixpkgs.overlays;
  experimentalFeatures = checked.nix.settings.experimental-features;
  stateVersion = if options.system.stateVersion.isDefined then checked.system.stateVersion else null;
  unfree = {
    allowUnfree = config.nixpkgs.config.allowUnfree;
    predicateSet = config.nixpkgs.config.allowUnfreePredicate != null;
    # The files that define nixpkgs.config at all, but for its declaration's
    # default: none of the hive's modules.
    definedBy = builtins.filter (file: file != toString ./nixos-options.nix)
      (map toString options.nixpkgs.config.files);
  };
}
