# The options hyperhive's NixOS modules declare, as nixpkgs' own manual
# generator lists them (lib.optionAttrSetToDocList), for hyperhive-nixos(5).
#   nix-instantiate --eval --strict --json hive_dev/nixos_options.nix \
#     --argstr lib /path/to/nixpkgs-lib --argstr module /path/to/module.nix
# Only the declarations are read: the module's config is never evaluated
# (_module.check off, no pkgs), so no NixOS option needs declaring here, and
# a default that reads pkgs must say so in a defaultText.
{ lib, module }:
let
  libDir = /. + lib;
  nixpkgsLib = import (if builtins.pathExists (libDir + "/lib/default.nix")
    then libDir + "/lib" else libDir);
  evaluated = nixpkgsLib.evalModules {
    modules = [
      (/. + module)
      {
        _module.check = false;
        _module.args.pkgs = throw "hyperhive-nixos(5): an option's default reads pkgs; give it a defaultText";
      }
    ];
  };
  shown = o: o.visible && !o.internal && !(nixpkgsLib.hasPrefix "_module." o.name);
  keep = o: {
    inherit (o) name description type readOnly;
    default = o.default or null;
    example = o.example or null;
  };
in
map keep (builtins.filter shown (nixpkgsLib.optionAttrSetToDocList evaluated.options))
