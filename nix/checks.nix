# The flake's checks: the modules evaluated with nixpkgs' module system (what
# NixOS would make of them, as far as option declarations reach without
# NixOS), the package, and the NixOS VM test.
{ self, nixpkgs, system }:
let
  inherit (nixpkgs) lib;
  # The test's own packages: the hive's overlays, and claude-code allowed by
  # name, since a VM test's nodes cannot change the nixpkgs they are given.
  # An operator's system says this itself; the overlays and modules never do.
  # The host module hands exactly this decision on to the agents' containers
  # (the hyperhive-unfree registry entry), so alice's system may build.
  pkgs = import nixpkgs {
    inherit system;
    overlays = [ self.overlays.default self.overlays.claude-unstable ];
    config.allowUnfreePredicate = pkg: builtins.elem (lib.getName pkg) [ "claude-code" ];
  };

  # NixOS's options that the modules write to, with NixOS's types.
  nixosOptions = ../tests/nix/nixos-options.nix;

  evaluate = modules: (lib.evalModules {
    modules = [ nixosOptions { _module.args = { inherit pkgs; }; } ] ++ modules;
  }).config;

  failedAssertions = config: map (a: a.message) (lib.filter (a: !a.assertion) config.assertions);

  # A module's evaluated units, or its failed assertions as the evaluation's error.
  units = name: config:
    let failed = failedAssertions config;
    in if failed != [ ] then throw "${name}: ${lib.concatStringsSep "; " failed}"
    else { inherit (config.systemd) services sockets; tmpfiles = config.systemd.tmpfiles.rules; };

  host = evaluate [ self.nixosModules.hive-c0re { services.hive-c0re.enable = true; } ];
  nixosHost = evaluate [
    self.nixosModules.hive-c0re
    { services.hive-c0re = { enable = true; backend = "nixos"; dashboard.enable = false; }; }
  ];
  harness = evaluate [ self.nixosModules.harness ];
in
{
  modules = pkgs.runCommand "hyperhive-modules-evaluate"
    {
      host = builtins.toJSON (units "services.hive-c0re" host);
      nixosHost = builtins.toJSON (units "services.hive-c0re on the nixos backend" nixosHost);
      harness = builtins.toJSON (units "the harness" harness);
    } "echo evaluated > $out";

  package = pkgs.hyperhive;

  vm = pkgs.testers.runNixOSTest (import ./vm-test.nix { inherit self nixpkgs pkgs; });
}
