# The NixOS options the VM test's host and the README's example system write
# to beyond the modules' own (nixos-options.nix), with NixOS's types: its
# files in /etc, Nix's settings, and the test framework's
# virtual machine (nixos/modules/virtualisation/qemu-vm.nix). The stand-in
# runNixOSTest evaluates its nodes against both.
{ lib, ... }:
let
  inherit (lib) mkOption types;
  etcFile = types.submodule ({ name, ... }: {
    options = {
      enable = mkOption { type = types.bool; default = true; };
      target = mkOption { type = types.str; default = name; };
      text = mkOption { type = types.nullOr types.lines; default = null; };
      source = mkOption { type = types.nullOr types.path; default = null; };
      mode = mkOption { type = types.str; default = "symlink"; };
      user = mkOption { type = types.str; default = "+0"; };
      group = mkOption { type = types.str; default = "+0"; };
    };
  });
  setting = types.oneOf [ types.bool types.int types.str (types.listOf types.str) ];
in
{
  options = {
    environment.etc = mkOption { type = types.attrsOf etcFile; default = { }; };
    networking.hostName = mkOption { type = types.str; default = "nixos"; };
    nix.settings = mkOption { type = types.attrsOf setting; default = { }; };
    system.stateVersion = mkOption { type = types.str; default = "26.05"; };

    virtualisation.memorySize = mkOption { type = types.ints.positive; default = 1024; };
    virtualisation.diskSize = mkOption { type = types.ints.positive; default = 1024; };
    virtualisation.cores = mkOption { type = types.ints.positive; default = 1; };
    virtualisation.writableStore = mkOption { type = types.bool; default = true; };
    virtualisation.additionalPaths = mkOption { type = types.listOf types.path; default = [ ]; };
  };
}
