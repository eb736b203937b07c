{
  description = "hyperhive: a systemd-native hive of Claude-Code agents on one Linux host";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";
    # claude-code moves faster than any release: the claude-unstable overlay takes it from here.
    nixpkgs-unstable.url = "github:NixOS/nixpkgs/nixos-unstable";
  };

  outputs = { self, nixpkgs, nixpkgs-unstable }:
    let
      inherit (nixpkgs) lib;
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forSystems = lib.genAttrs systems;
    in
    {
      overlays = {
        default = final: prev: { hyperhive = final.callPackage ./nix/package.nix { }; };
        # claude-code from nixpkgs-unstable, imported with the caller's own
        # nixpkgs config: claude-code is unfree, and only the operator says
        # yes to that (allowUnfree, or an allowUnfreePredicate naming
        # claude-code); this overlay never does.
        claude-unstable = final: prev: {
          claude-code = (import nixpkgs-unstable {
            inherit (final) config;
            system = final.stdenv.hostPlatform.system;
          }).claude-code;
        };
      };

      packages = forSystems (system: rec {
        hyperhive = nixpkgs.legacyPackages.${system}.callPackage ./nix/package.nix { };
        default = hyperhive;
      });

      nixosModules = {
        hive-c0re = import ./nixos/modules/hive-c0re.nix;
        harness = import ./nixos/modules/harness.nix;
        default = self.nixosModules.hive-c0re;
      };

      checks = forSystems (system: import ./nix/checks.nix { inherit self nixpkgs system; });
    };
}
