# The stand-in `testers.runNixOSTest`: it cannot boot VMs, so it does what
# can be done without NixOS: each node's modules are evaluated with nixpkgs'
# real module system against the NixOS options in ./nixos (hyperhive's
# tests/nix/nixos-options.nix and vm-options.nix, declared with NixOS's
# types, copied in by hive_dev.flake_stand_in), its failed assertions stop the evaluation
# as NixOS's would, and the test script is kept for the caller to check.
{ lib, pkgs }:
test:
let
  evalNode = name: module: (lib.evalModules {
    modules = [
      ./nixos/nixos-options.nix
      ./nixos/vm-options.nix
      module
      (test.defaults or { })
      { _module.args = { inherit pkgs; nodes = nodes; }; networking.hostName = lib.mkDefault name; }
    ];
  }).config;

  checked = name: config:
    let failed = map (a: a.message) (lib.filter (a: !a.assertion) config.assertions);
    in if failed == [ ] then config
    else throw "node ${name}: failed assertions:\n- ${lib.concatStringsSep "\n- " failed}";

  nodes = lib.mapAttrs (name: module: checked name (evalNode name module)) test.nodes;

  testScript =
    if lib.isFunction test.testScript then test.testScript { inherit nodes; } else test.testScript;

  # What a node's system is made of, as far as the stand-in's options reach.
  summary = config: {
    inherit (config) systemd environment users networking boot virtualisation;
  };
in
assert lib.assertMsg (test ? name && test ? nodes && test ? testScript)
  "runNixOSTest: name, nodes and testScript are required";
pkgs.runCommand "vm-test-run-${test.name}"
{
  inherit testScript;
  nodesJSON = builtins.toJSON (lib.mapAttrs (_: summary) nodes);
  passthru = { inherit nodes testScript; };
} "echo stand-in > $out"
