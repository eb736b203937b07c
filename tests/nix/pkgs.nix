# Stand-ins for the packages the modules take from pkgs: real (never built)
# derivations, whose store paths the tests find in ExecStart, PATH and the
# environment.
let
  package = name: derivation {
    inherit name;
    system = "x86_64-linux";
    builder = "/bin/sh";
    args = [ "-c" "echo stand-in > $out" ];
  };
in
{
  git = package "git-2.50.1";
  hyperhive = package "hyperhive-0.1.0";
  claude-code = package "claude-code-2.0.0";
  jq = package "jq-1.8.0";
  systemd = package "systemd-258";
  github-mcp-server = package "github-mcp-server-0.5.0";
}
