# Every option the hive's modules declare, as the NixOS manual lists them
# (lib.optionAttrSetToDocList): name, type, description, default.
{ lib }:
let
  evaluated = lib.evalModules {
    modules = [
      ./nixos-options.nix
      { _module.args.pkgs = import ./pkgs.nix; }
      ../../nixos/modules/hive-c0re.nix
      ../../nixos/modules/harness.nix
    ];
  };
  # As the manual lists them: internal and invisible ones (a submodule's own
  # _module.*) left out.
  documented = prefix: builtins.filter
    (o: lib.hasPrefix prefix o.name && !(o.internal or false) && (o.visible or true) == true)
    (lib.optionAttrSetToDocList evaluated.options);
in
map (o: { inherit (o) name type; description = o.description or null;
          hasDefault = o ? default; })
  (documented "services.hive-c0re" ++ documented "services.hive-harness")
