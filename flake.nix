{
  description = "A Kafka-compatible message broker in TypeScript on Effect";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAll = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in {
      devShells = forAll (pkgs: {
        default = pkgs.mkShell {
          # Node.js >= 22.19 (effect 4 and vitest 5 need it), pnpm, and kcat for the integration tests.
          packages = [ pkgs.nodejs_22 pkgs.pnpm pkgs.kcat ];
        };
      });
    };
}
