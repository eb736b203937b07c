# The NixOS options a hyperhive host, its VM test and the harness write to,
# declared with the types NixOS gives them (nixos/modules/system/boot/
# systemd.nix, systemd-unit-options.nix, config/users-groups.nix, ...), so a
# wrong type fails here as it would on NixOS. Not NixOS: no defaults beyond
# the ones NixOS has, nothing rendered.
{ lib, ... }:
let
  inherit (lib) mkOption types;
  primitive = types.oneOf [ types.bool types.int types.float types.str types.path types.package ];
  unitOption = types.either primitive (types.listOf primitive);
  unitNames = mkOption { type = types.listOf types.str; default = [ ]; };
  unitCommon = {
    enable = mkOption { type = types.bool; default = true; };
    description = mkOption { type = types.singleLineStr; default = ""; };
    documentation = mkOption { type = types.listOf types.str; default = [ ]; };
    wantedBy = unitNames;
    requiredBy = unitNames;
    wants = unitNames;
    requires = unitNames;
    after = unitNames;
    before = unitNames;
    bindsTo = unitNames;
    partOf = unitNames;
    conflicts = unitNames;
    unitConfig = mkOption { type = types.attrsOf unitOption; default = { }; };
    restartTriggers = mkOption { type = types.listOf types.unspecified; default = [ ]; };
  };
  service = types.submodule {
    options = unitCommon // {
      environment = mkOption {
        type = types.attrsOf (types.nullOr (types.oneOf [ types.str types.path types.package ]));
        default = { };
      };
      path = mkOption { type = types.listOf (types.oneOf [ types.package types.str ]); default = [ ]; };
      serviceConfig = mkOption { type = types.attrsOf unitOption; default = { }; };
      script = mkOption { type = types.lines; default = ""; };
      preStart = mkOption { type = types.lines; default = ""; };
      postStart = mkOption { type = types.lines; default = ""; };
      restartIfChanged = mkOption { type = types.bool; default = true; };
      stopIfChanged = mkOption { type = types.bool; default = true; };
      startLimitIntervalSec = mkOption { type = types.nullOr types.int; default = null; };
      startLimitBurst = mkOption { type = types.nullOr types.int; default = null; };
    };
  };
  socket = types.submodule {
    options = unitCommon // {
      listenStreams = mkOption { type = types.listOf types.str; default = [ ]; };
      listenDatagrams = mkOption { type = types.listOf types.str; default = [ ]; };
      socketConfig = mkOption { type = types.attrsOf unitOption; default = { }; };
    };
  };
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
  user = types.submodule {
    options = {
      isSystemUser = mkOption { type = types.bool; default = false; };
      isNormalUser = mkOption { type = types.bool; default = false; };
      group = mkOption { type = types.str; default = ""; };
      extraGroups = mkOption { type = types.listOf types.str; default = [ ]; };
      home = mkOption { type = types.path; default = "/var/empty"; };
      uid = mkOption { type = types.nullOr types.int; default = null; };
      description = mkOption { type = types.str; default = ""; };
      password = mkOption { type = types.nullOr types.str; default = null; };
    };
  };
  overlay = lib.mkOptionType {
    name = "nixpkgs-overlay";
    description = "nixpkgs overlay";
    check = lib.isFunction;
    merge = lib.mergeOneOption;
  };
in
{
  options = {
    assertions = mkOption { type = types.listOf types.unspecified; default = [ ]; };
    warnings = mkOption { type = types.listOf types.str; default = [ ]; };

    systemd.services = mkOption { type = types.attrsOf service; default = { }; };
    systemd.sockets = mkOption { type = types.attrsOf socket; default = { }; };
    systemd.tmpfiles.rules = mkOption { type = types.listOf types.str; default = [ ]; };

    environment.systemPackages = mkOption { type = types.listOf types.package; default = [ ]; };
    environment.etc = mkOption { type = types.attrsOf etcFile; default = { }; };

    users.users = mkOption { type = types.attrsOf user; default = { }; };
    users.groups = mkOption {
      type = types.attrsOf (types.submodule {
        options.gid = mkOption { type = types.nullOr types.int; default = null; };
      });
      default = { };
    };

    boot.enableContainers = mkOption { type = types.bool; default = true; };
    boot.isNspawnContainer = mkOption { type = types.bool; default = false; };

    networking.hostName = mkOption { type = types.str; default = "nixos"; };
    networking.firewall.allowedTCPPorts = mkOption { type = types.listOf types.port; default = [ ]; };

    nixpkgs.config = mkOption { type = types.attrs; default = { }; };
    nixpkgs.overlays = mkOption { type = types.listOf overlay; default = [ ]; };

    nix.settings = mkOption {
      type = types.attrsOf (types.oneOf [ types.bool types.int types.str (types.listOf types.str) ]);
      default = { };
    };
    nix.registry = mkOption {
      type = types.attrsOf (types.submodule { options.flake = mkOption { type = types.unspecified; }; });
      default = { };
    };

    # The test framework's own (nixos/modules/virtualisation/qemu-vm.nix).
    virtualisation.memorySize = mkOption { type = types.ints.positive; default = 1024; };
    virtualisation.diskSize = mkOption { type = types.ints.positive; default = 1024; };
    virtualisation.cores = mkOption { type = types.ints.positive; default = 1; };
    virtualisation.writableStore = mkOption { type = types.bool; default = true; };
    virtualisation.additionalPaths = mkOption { type = types.listOf types.path; default = [ ]; };

    system.stateVersion = mkOption { type = types.str; default = "26.05"; };
  };
}
