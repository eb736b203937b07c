# The inside of an agent's (or the manager's) nixos-container: what every
# agent.nix imports. The host binds the hive's paths in (see
# hive_c0re/lifecycle/nixos_conf.py): /run/hive (the agent's hive.sock, the
# harness's ui.sock), /state, /root/.claude, /etc/hive (policy.json,
# read-only) and /run/hive-egress (the only way out). The container's own
# network has nothing but its loopback, so nothing here listens on it.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.services.hive-harness;
  tables = import ./settings.nix { inherit lib; };
  program = if cfg.role == "manager" then "hive-m1nd" else "hive-ag3nt";
  # The model's side (the claude CLI and its tools) runs as this user, apart
  # from the harness (hive_ag3nt/separation.py), as in the nspawn backend.
  modelUser = "claude";
  # Where the manager sees every agent's proposed config repo; its model's
  # side edits them with git, so they are its to own.
  managerRepos = "/agents";
in
{
  options.services.hive-harness = {
    enable = mkOption {
      type = types.bool;
      default = true;
      description = "Whether to run the harness; importing this module into an agent's container is the usual way to ask for it.";
    };

    role = mkOption {
      type = types.enum [ "agent" "manager" ];
      default = "agent";
      description = "`agent` runs `hive-ag3nt serve` (the `hive-ag3nt` service); `manager` runs `hive-m1nd serve`, the harness with the manager's tools (the `hive-m1nd` service).";
    };

    package = mkOption {
      type = types.package;
      default = pkgs.hyperhive;
      defaultText = lib.literalExpression "pkgs.hyperhive";
      description = "The hyperhive package whose harness runs.";
    };

    claudePackage = mkOption {
      type = types.package;
      default = pkgs.claude-code;
      defaultText = lib.literalExpression "pkgs.claude-code";
      description = ''
        The claude CLI the harness drives (`HYPERHIVE_CLAUDE`). `claude-code`
        is unfree: allow it in the nixpkgs the container is built from
        (`nixpkgs.config.allowUnfreePredicate`); the flake's `claude-unstable`
        overlay gives the newer one from nixpkgs-unstable.
      '';
    };

    settings = mkOption {
      type = types.submodule { options = tables.harness.options; };
      default = { };
      example = lib.literalExpression "{ context_window = 1000000; }";
      description = "The harness's settings (see hyperhive(7)), each set as its `HYPERHIVE_<NAME>` variable; a setting left null keeps the harness's default. `model_uid` is the host's to set (see `modelUid`).";
    };

    modelUid = mkOption {
      type = types.int;
      readOnly = true;
      default = 1000;
      description = "The uid (and gid) of the `claude` user the model's side runs as, inside the container's user namespace: the one the host sets (`HYPERHIVE_MODEL_UID`) for every container.";
    };

    mcpServerPackages = mkOption {
      type = types.listOf types.package;
      default = [ ];
      example = lib.literalExpression "[ pkgs.github-mcp-server ]";
      description = "The programs agent.toml's `mcp_servers.<name>.command` names, installed in the system profile, so `/run/current-system/sw/bin/<program>` exists in the container.";
    };

    packages = mkOption {
      type = types.listOf types.package;
      default = [ ];
      example = lib.literalExpression "[ pkgs.ripgrep pkgs.python3 ]";
      description = "Programs on the harness's `PATH`, so the model's Bash finds them (as far as agent.toml's allowed_bash lets it run them).";
    };

    binds = mkOption {
      type = types.listOf types.str;
      readOnly = true;
      default = [ "/run/hive" "/state" "/root/.claude" "/etc/hive" "/run/hive-egress" ]
        ++ lib.optional (cfg.role == "manager") managerRepos;
      defaultText = lib.literalExpression ''[ "/run/hive" "/state" "/root/.claude" "/etc/hive" "/run/hive-egress" ] ++ (if role == "manager" then [ "/agents" ] else [ ])'';
      description = "The paths the host binds into the container, which the harness waits for (`RequiresMountsFor=`); the manager's also has every agent's proposed config repo at /agents.";
    };
  };

  config = lib.mkMerge [
    {
      # Whatever the harness does: this is a container (NixOS 25.11's name).
      boot.isNspawnContainer = true;
      # The container's network is its loopback alone: nothing to ask for an address.
      networking.useDHCP = lib.mkDefault false;
    }

    (lib.mkIf cfg.enable {
      environment.systemPackages = [ cfg.package ] ++ cfg.mcpServerPackages;

      users.groups.${modelUser}.gid = cfg.modelUid;
      users.users.${modelUser} = {
        isSystemUser = true;
        uid = cfg.modelUid;
        group = modelUser;
        home = "/root";
        description = "the model's side of the hyperhive harness";
      };

      systemd.services.${program} = {
        description = "hyperhive harness (${program}): the agent's turn loop";
        documentation = [ "man:${program}(1)" "man:hyperhive(7)" ];
        wantedBy = [ "multi-user.target" ];
        # The binds are there before the container starts; this orders the
        # harness after their mounts. A missing /etc/hive/policy.json fails the
        # harness (and so the container) with its own message: never a skip.
        unitConfig.RequiresMountsFor = cfg.binds;
        # The package first: the harness finds hive-ag3nt-model (which runs the
        # CLI as the model's uid) on PATH, not beside a store-path interpreter.
        path = [ cfg.package ] ++ cfg.packages ++ [ "/run/current-system/sw" ];
        environment = tables.environment tables.harness.variables cfg.settings // {
          HYPERHIVE_MODEL_UID = toString cfg.modelUid;
          HYPERHIVE_CLAUDE = "${cfg.claudePackage}/bin/claude";
          HOME = "/root";
          CLAUDE_CONFIG_DIR = "/root/.claude";
          PYTHONUNBUFFERED = "1";
        } // lib.optionalAttrs (cfg.role == "manager") {
          HYPERHIVE_MODEL_OWNS = managerRepos;
        };
        serviceConfig = {
          Type = "simple";
          ExecStart = "${cfg.package}/bin/${program} serve";
          WorkingDirectory = "/state";
          # What the host sets for every container (HYPERHIVE_AGENT, the
          # operator's agent_env_file), written by the nixos backend, 0400.
          # Required: without it the harness would start with no name and no key.
          EnvironmentFile = "/etc/hive/environment";
          # The manager decides about restarts: a harness that fails stops its
          # container, whose unit the host's crash watch sees.
          Restart = "no";
          FailureAction = "exit";
          TimeoutStopSec = "20s";
        };
      };
    })
  ];
}
