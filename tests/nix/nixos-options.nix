# The NixOS options hyperhive's modules write to, declared with the types
# NixOS gives them (nixos/modules/system/boot/systemd*.nix, misc/assertions.nix,
# config/system-path.nix, ...), so that a value NixOS would refuse fails here
# too. Only the option values are checked: unit-file rendering is NixOS's own.
{ lib, ... }:
let
  inherit (lib) mkOption types;
  # NixOS's unitOption: one value, or a list of them that definitions concatenate.
  atomic = v: builtins.isBool v || builtins.isInt v || builtins.isFloat v
    || builtins.isString v || builtins.isPath v || lib.isDerivation v;
  unitOption = lib.mkOptionType {
    name = "systemd option";
    description = "systemd option";
    check = v: atomic v || (builtins.isList v && builtins.all atomic v);
    merge = loc: defs:
      let defs' = lib.filterOverrides defs; in
      if builtins.any (def: builtins.isList def.value) defs'
      then lib.concatMap (def: lib.toList def.value) defs'
      else lib.mergeEqualOption loc defs';
  };
  unitNames = mkOption { type = types.listOf types.str; default = [ ]; };
  unitSection = mkOption { type = types.attrsOf unitOption; default = { }; };
  common = {
    description = mkOption { type = types.str; default = ""; };
    documentation = mkOption { type = types.listOf types.str; default = [ ]; };
    wantedBy = unitNames;
    requiredBy = unitNames;
    requires = unitNames;
    wants = unitNames;
    after = unitNames;
    before = unitNames;
    unitConfig = unitSection;
  };
  service = types.submodule {
    options = common // {
      serviceConfig = unitSection;
      environment = mkOption {
        type = types.attrsOf (types.nullOr (types.oneOf [ types.str types.path types.package ]));
        default = { };
      };
      path = mkOption {
        type = types.listOf (types.oneOf [ types.package types.str ]);
        default = [ ];
      };
      script = mkOption { type = types.lines; default = ""; };
    };
  };
  socket = types.submodule {
    options = common // {
      listenStreams = mkOption { type = types.listOf types.str; default = [ ]; };
      listenDatagrams = mkOption { type = types.listOf types.str; default = [ ]; };
      socketConfig = unitSection;
    };
  };
  user = types.submodule {
    options = {
      uid = mkOption { type = types.nullOr types.int; default = null; };
      group = mkOption { type = types.str; default = ""; };
      isSystemUser = mkOption { type = types.bool; default = false; };
      isNormalUser = mkOption { type = types.bool; default = false; };
      home = mkOption { type = types.path; default = "/var/empty"; };
      description = mkOption { type = types.str; default = ""; };
    };
  };
  group = types.submodule {
    options.gid = mkOption { type = types.nullOr types.int; default = null; };
  };
in
{
  options = {
    assertions = mkOption {
      type = types.listOf (types.submodule {
        options.assertion = mkOption { type = types.bool; };
        options.message = mkOption { type = types.str; };
      });
      default = [ ];
    };
    warnings = mkOption { type = types.listOf types.str; default = [ ]; };

    systemd.services = mkOption { type = types.attrsOf service; default = { }; };
    systemd.sockets = mkOption { type = types.attrsOf socket; default = { }; };
    systemd.tmpfiles.rules = mkOption { type = types.listOf types.str; default = [ ]; };

    environment.systemPackages = mkOption { type = types.listOf types.package; default = [ ]; };
    networking.firewall.allowedTCPPorts = mkOption { type = types.listOf types.port; default = [ ]; };
    networking.useDHCP = mkOption { type = types.bool; default = true; };

    boot.enableContainers = mkOption { type = types.bool; default = true; };
    boot.isNspawnContainer = mkOption { type = types.bool; default = false; };

    nix.registry = mkOption {
      type = types.attrsOf (types.submodule {
        options.flake = mkOption { type = types.nullOr types.attrs; default = null; };
      });
      default = { };
    };
    nix.settings = mkOption {
      type = types.submodule {
        freeformType = types.attrsOf types.anything;
        options.experimental-features = mkOption { type = types.listOf types.str; default = [ ]; };
      };
      default = { };
    };
    nixpkgs.overlays = mkOption {
      type = types.listOf (lib.mkOptionType {
        name = "nixpkgs-overlay";
        check = builtins.isFunction;
        merge = lib.mergeOneOption;
      });
      default = [ ];
    };
    system.stateVersion = mkOption { type = types.str; };

    users.users = mkOption { type = types.attrsOf user; default = { }; };
    users.groups = mkOption { type = types.attrsOf group; default = { }; };

    # The unfree rule: the operator's to set, never a module's.
    nixpkgs.config = mkOption {
      type = types.submodule {
        freeformType = types.attrsOf types.anything;
        options.allowUnfree = mkOption { type = types.bool; default = false; };
        options.allowUnfreePredicate = mkOption {
          type = types.nullOr (types.functionTo types.bool);
          default = null;
        };
      };
      default = { };
    };
  };
}
