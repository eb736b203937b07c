# A stand-in for nixpkgs, for evaluating hyperhive's flake where nixpkgs
# cannot be had: nixpkgs' real lib (copied in as ./lib by hive_dev.flake_stand_in), and
# stand-ins for exactly the packages and builders hyperhive's flake uses.
# Anything else is a missing attribute, so an evaluation error. Nothing here
# refuses unfree packages: that is nixpkgs' own check, and it runs only
# where nixpkgs does.
{
  description = "stand-in nixpkgs for hyperhive's flake checks";

  outputs = { self }:
    let
      lib = import ./lib;
      systems = [ "x86_64-linux" "aarch64-linux" ];
    in
    {
      inherit lib;
      legacyPackages = lib.genAttrs systems (system: import ./. { inherit system; });
    };
}
