# The host side of hyperhive: the hive-c0re daemon (socket-activated) and its
# dashboard. The nspawn backend's template unit, hive-agent@.service, is not
# declared here: the daemon writes it (filled in from its own settings: where
# the agents' files are, the nspawn binary) into /etc/systemd/system.control,
# which systemd prefers over /etc/systemd/system, so a copy here would only be
# shadowed and drift.
#
# The units say what hive_c0re/unit_files/ says for other distributions; a
# test compares the two, directive by directive, so they cannot drift. The
# settings submodule comes from the daemon's own settings table (settings.nix,
# written by scripts/gen-nix).
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption mkEnableOption mkIf types;
  cfg = config.services.hive-c0re;
  tables = import ./settings.nix { inherit lib; };
  isLoopback = address: lib.hasPrefix "127." address || address == "::1";
  # systemd takes an address literal in ListenStream=, never a host name: a
  # name (or nothing) would make the socket unit fail to load.
  isIPv4 = address: builtins.match "([0-9]{1,3})\\.([0-9]{1,3})\\.([0-9]{1,3})\\.([0-9]{1,3})" address
    != null && lib.all (octet: lib.toInt octet <= 255)
      (builtins.match "([0-9]+)\\.([0-9]+)\\.([0-9]+)\\.([0-9]+)" address);
  # Colon-separated groups of up to four hex digits (at least two colons; the
  # last group may be an IPv4 address), then an optional %zone.
  isIPv6 = address:
    let
      parts = builtins.match "([^%]*)(%[a-zA-Z0-9_.-]+)?" address;
      groups = lib.splitString ":" (builtins.head parts);
      isGroup = group: builtins.match "[0-9a-fA-F]{0,4}" group != null;
    in parts != null && builtins.length groups >= 3 && builtins.length groups <= 9
      && lib.all isGroup (lib.init groups)
      && (isGroup (lib.last groups) || isIPv4 (lib.last groups));
  isWildcard = address: address == "0.0.0.0" || address == "::";
  # A TCP ListenStream: an IPv6 address goes in brackets.
  listenAddress = address: port:
    if lib.hasInfix ":" address then "[${address}]:${toString port}"
    else "${address}:${toString port}";
  hiveC0re = "${cfg.package}/bin/hive-c0re";
  settingsEnvironment = tables.environment tables.daemon.variables cfg.settings
    // { ${tables.promoted.backend} = cfg.backend; }
    // lib.optionalAttrs (cfg.agentEnvironmentFile != null) {
      ${tables.promoted.agent_env_file} = toString cfg.agentEnvironmentFile;
    };
  # claude-code is unfree: whether the operator allowed it is the host's own
  # nixpkgs config, asked as nixpkgs asks it. The agents' containers get that
  # answer and no more: the flake registered as hyperhive-unfree, which every
  # seeded flake.nix imports, allows claude-code by name, or nothing.
  allows = nixpkgsConfig: pkg: nixpkgsConfig.allowUnfree or false
    || (let predicate = nixpkgsConfig.allowUnfreePredicate or null;
        in predicate != null && predicate pkg);
  claudeCodeAllowed = allows pkgs.config pkgs.claude-code;
  # A path: the registry copies the directory alone into the store.
  agentUnfree = if claudeCodeAllowed then ../agent-unfree/claude-code else ../agent-unfree/none;
  # The man pages and the operator's first look: every unit says where its docs are.
  documentation = [ "man:hyperhive(7)" ];
in
{
  options.services.hive-c0re = {
    enable = mkEnableOption "the hyperhive daemon (hive-c0re), socket-activated on /run/hyperhive/host.sock";

    package = mkOption {
      type = types.package;
      default = pkgs.hyperhive;
      defaultText = lib.literalExpression "pkgs.hyperhive";
      description = "The hyperhive package whose `hive-c0re` runs the daemon and the dashboard (the flake's overlay provides `pkgs.hyperhive`).";
    };

    backend = mkOption {
      type = types.enum [ "nixos" "nspawn" ];
      default = "nixos";
      description = ''
        How agents' containers run: `nixos` makes each an imperative
        `nixos-container` built from its applied config repo (needs
        `boot.enableContainers`); `nspawn` runs plain `systemd-nspawn` under
        the `hive-agent@.service` template, which the daemon writes into
        /etc/systemd/system.control, with the system profile
        (`/run/current-system/sw`) as each container's read-only `/usr`. Sets
        `HYPERHIVE_BACKEND`.

        On `nixos`, the agents' containers have claude-code, which is unfree,
        exactly when this host's nixpkgs config allows it
        (`nixpkgs.config.allowUnfreePredicate` naming `claude-code`, or
        `allowUnfree`): the `hyperhive-unfree` entry of the flake registry,
        which every seeded flake.nix imports, then allows claude-code by name
        and no other package; otherwise it allows nothing, and evaluation
        warns.
      '';
    };

    settings = mkOption {
      type = types.submodule { options = tables.daemon.options; };
      default = { };
      example = lib.literalExpression "{ inbox_cap = 20000; acked_retention_days = 7; }";
      description = ''
        The daemon's settings (see hyperhive(7)), each set as its
        `HYPERHIVE_<NAME>` variable in the daemon's and the dashboard's
        environment; a setting left null keeps the daemon's default. An unknown
        name or a value of the wrong type fails evaluation.
      '';
    };

    dashboard = {
      enable = mkOption {
        type = types.bool;
        default = true;
        description = "Whether to run the dashboard, the operator's web UI (`hive-c0re-dashboard.socket` and `.service`), a client of host.sock with no powers of its own.";
      };
      address = mkOption {
        type = types.str;
        default = "127.0.0.1";
        example = "0.0.0.0";
        description = ''
          The address the dashboard's TCP listener binds. Beyond loopback, the
          service's `IPAddressAllow=` widens to any peer, and browsers must name
          a host in the `dashboard_allowed_hosts` setting.
        '';
      };
      port = mkOption {
        type = types.int;
        default = 7000;
        description = "The TCP port of the dashboard's listener (1 to 65535), beside its unix socket /run/hyperhive/dashboard.sock.";
      };
      openFirewall = mkOption {
        type = types.bool;
        default = false;
        description = "Whether to open `port` in the firewall. Only useful with a non-loopback `address`; the dashboard asks every browser for a login anyway.";
      };
    };

    agentEnvironmentFile = mkOption {
      type = types.nullOr types.path;
      default = null;
      example = "/run/secrets/hive-agents.env";
      description = ''
        A file of `KEY=VALUE` lines set in every agent container's environment
        (an API key, `ANTHROPIC_BASE_URL`), read by the daemon at each deploy.
        Keep it out of the Nix store, which every local user can read. Sets
        `HYPERHIVE_AGENT_ENV_FILE`.
      '';
    };

    flake = mkOption {
      type = types.nullOr (types.addCheck types.attrs (flake: flake ? outPath) // {
        description = "flake (an attribute set with an outPath)";
      });
      default = null;
      example = lib.literalExpression "inputs.hyperhive";
      description = ''
        The hyperhive flake the agents' config repos build their containers
        with (its harness module and its nixpkgs), registered as `hyperhive` in
        the system's flake registry: a new agent's seeded flake.nix names
        `flake:hyperhive`. Needed by the nixos backend unless the registry has
        a `hyperhive` entry otherwise.
      '';
    };

    extraPackages = mkOption {
      type = types.listOf types.package;
      default = [ ];
      example = lib.literalExpression "[ pkgs.jq ]";
      description = "Packages put on the daemon's `PATH`, after git and before the system profile (`/run/current-system/sw`).";
    };
  };

  config = mkIf cfg.enable (lib.mkMerge [
    {
      assertions = [
        {
          assertion = cfg.dashboard.port >= 1 && cfg.dashboard.port <= 65535;
          message = "services.hive-c0re.dashboard.port is ${toString cfg.dashboard.port}; a TCP port is 1 to 65535.";
        }
        {
          assertion = cfg.backend != "nixos" || config.boot.enableContainers;
          message = "services.hive-c0re.backend = \"nixos\" runs agents as nixos-containers, but boot.enableContainers is false: set it to true, or use backend = \"nspawn\".";
        }
        {
          assertion = cfg.agentEnvironmentFile == null
            || !lib.hasPrefix builtins.storeDir (toString cfg.agentEnvironmentFile);
          message = "services.hive-c0re.agentEnvironmentFile is ${toString cfg.agentEnvironmentFile}, in the Nix store, which every local user can read: give a path outside it, such as /run/secrets/hive-agents.env.";
        }
        {
          assertion = !cfg.dashboard.enable || isIPv4 cfg.dashboard.address
            || isIPv6 cfg.dashboard.address;
          message = "services.hive-c0re.dashboard.address is \"${cfg.dashboard.address}\"; the dashboard's socket listens on an IPv4 or IPv6 address literal (such as 127.0.0.1, ::1, 0.0.0.0 or ::), never a host name.";
        }
        {
          assertion = !(cfg.dashboard.enable && cfg.dashboard.openFirewall && isLoopback cfg.dashboard.address);
          message = "services.hive-c0re.dashboard.openFirewall opens port ${toString cfg.dashboard.port}, but the dashboard listens on ${cfg.dashboard.address} only: set dashboard.address, or leave openFirewall false.";
        }
        {
          assertion = cfg.settings.systemd_scope != "user";
          message = "services.hive-c0re.settings.systemd_scope = \"user\" puts agents under a user manager, which a NixOS host's daemon does not have: leave it unset (\"system\").";
        }
      ];

      warnings = lib.optional (cfg.backend == "nixos" && !(config.nix.registry ? hyperhive))
        "services.hive-c0re.flake is unset and the flake registry has no hyperhive entry: the agents' flake.nix finds hyperhive as flake:hyperhive (set services.hive-c0re.flake = inputs.hyperhive;)."
        ++ lib.optional (cfg.backend == "nixos" && !claudeCodeAllowed)
        "services.hive-c0re: claude-code is unfree and this host's nixpkgs config does not allow it, so the agents' containers, whose harness runs it, may not have it either and fail to build. Allow it on the host, by name: nixpkgs.config.allowUnfreePredicate = pkg: lib.getName pkg == \"claude-code\"; (or nixpkgs.config.allowUnfree = true;). The agents are then allowed claude-code, and no other unfree package.";

      nix.registry = lib.mkMerge [
        (lib.mkIf (cfg.flake != null) { hyperhive.flake = cfg.flake; })
        # The host's word on claude-code for the agents' flakes (flake:hyperhive-unfree).
        (lib.mkIf (cfg.backend == "nixos") { hyperhive-unfree.flake.outPath = agentUnfree; })
      ];
      # The daemon builds each agent's system from its config repo's flake (nix build).
      nix.settings.experimental-features =
        lib.mkIf (cfg.backend == "nixos") [ "nix-command" "flakes" ];

      environment.systemPackages = [ cfg.package ];

      systemd.sockets.hive-c0re = {
        description = "hyperhive operator socket";
        inherit documentation;
        wantedBy = [ "sockets.target" ];
        # %t is /run for the system manager, as in the shipped unit.
        listenStreams = [ "%t/hyperhive/host.sock" ];
        socketConfig = {
          FileDescriptorName = "host";
          SocketMode = "0600";
          DirectoryMode = "0755";
          RemoveOnStop = "no";
        };
      };

      systemd.services.hive-c0re = {
        description = "hyperhive daemon: broker, agent sockets, lifecycle";
        inherit documentation;
        requires = [ "hive-c0re.socket" ];
        after = [ "hive-c0re.socket" ];
        wantedBy = [ "multi-user.target" ];
        # git for the config repos; the system profile for nixos-container,
        # nix, systemctl and systemd-nspawn.
        path = [ pkgs.git ] ++ cfg.extraPackages ++ [ "/run/current-system/sw" ];
        environment = settingsEnvironment // {
          PYTHONUNBUFFERED = "1";
          HYPERHIVE_GIT = "${pkgs.git}/bin/git";
        } // lib.optionalAttrs (cfg.backend == "nspawn") {
          # /etc/systemd/system is a read-only link into the store on NixOS;
          # the agents' units and drop-ins go where systemd reads and root writes.
          HYPERHIVE_UNIT_DIR = "/etc/systemd/system.control";
        };
        serviceConfig = {
          Type = "notify";
          NotifyAccess = "main";
          ExecStart = "${hiveC0re} serve";
          Restart = "on-failure";
          RestartSec = "200ms";
          WatchdogSec = "30s";
          TimeoutStopSec = "20s";
          StateDirectory = "hyperhive";
          StateDirectoryMode = "0700";
          RuntimeDirectory = "hyperhive";
          RuntimeDirectoryMode = "0755";
          # host.sock lives in the runtime directory and outlives a daemon restart.
          RuntimeDirectoryPreserve = "yes";
          # Room for max_total_connections (4096) and fd_reserve many times over.
          LimitNOFILE = 65536;
          UMask = "0077";
        };
      };

      # The daemon writes each agent's drop-in (nixos backend) or unit (nspawn) here.
      systemd.tmpfiles.rules = [ "d /etc/systemd/system.control 0755 root root - -" ];
    }

    (mkIf (cfg.backend == "nspawn") {
      services.hive-c0re.settings = {
        # The harness's Python and its libraries live in the store, not in /usr:
        # nspawn containers see /usr and these read-only. /etc/static too: the
        # certificates in /etc/ssl/certs (bound into every container) are links
        # into it. Both are the store's, which every local user reads anyway.
        extra_read_only_binds = lib.mkDefault "${builtins.storeDir}:/etc/static";
        # /usr on NixOS holds only bin/env: the containers' /usr (and so /bin/sh
        # for the model's Bash, and /usr/bin/env) is the system profile instead.
        container_usr = lib.mkDefault "/run/current-system/sw";
        nspawn_program = lib.mkDefault "${pkgs.systemd}/bin/systemd-nspawn";
        # The package's own console scripts: `{python} -m hive_ag3nt` would run
        # nixpkgs' bare interpreter, which finds the libraries only when a console
        # script adds them to its sys.path; a unit's command line cannot carry
        # the import path the daemon hands its own children.
        agent_command = lib.mkDefault "${cfg.package}/bin/hive-ag3nt serve";
        manager_command = lib.mkDefault "${cfg.package}/bin/hive-m1nd serve";
      };
    })

    (mkIf (cfg.dashboard.enable && !isWildcard cfg.dashboard.address) {
      # Where `hive-c0re dashboard login` sends the browser; a listener on every
      # address has no one name, so the operator says it (settings.dashboard_url).
      services.hive-c0re.settings.dashboard_url =
        lib.mkDefault "http://${listenAddress cfg.dashboard.address cfg.dashboard.port}/";
    })

    (mkIf cfg.dashboard.enable {

      networking.firewall.allowedTCPPorts = lib.optional cfg.dashboard.openFirewall cfg.dashboard.port;

      systemd.sockets.hive-c0re-dashboard = {
        description = "hyperhive dashboard socket (the operator's web UI)";
        inherit documentation;
        wantedBy = [ "sockets.target" ];
        # Root only: whoever reaches it gets the login page, nothing without a code.
        listenStreams = [
          "%t/hyperhive/dashboard.sock"
          (listenAddress cfg.dashboard.address cfg.dashboard.port)
        ];
        socketConfig = {
          SocketMode = "0600";
          DirectoryMode = "0755";
          # The dashboard serves every socket systemd passes it, whatever its name.
          FileDescriptorName = "unix";
        };
      };

      systemd.services.hive-c0re-dashboard = {
        description = "hyperhive dashboard: the operator's web UI, a client of host.sock";
        inherit documentation;
        requires = [ "hive-c0re-dashboard.socket" ];
        after = [ "hive-c0re-dashboard.socket" "hive-c0re.socket" ];
        # Every view is a wire request on host.sock: the hive's socket starts the daemon.
        wants = [ "hive-c0re.socket" ];
        wantedBy = [ "multi-user.target" ];
        environment = settingsEnvironment // {
          HYPERHIVE_SOCKET = "%t/hyperhive/host.sock";
          PYTHONUNBUFFERED = "1";
        };
        serviceConfig = {
          Type = "notify";
          NotifyAccess = "main";
          ExecStart = "${hiveC0re} dashboard";
          Restart = "on-failure";
          RestartSec = "200ms";
          TimeoutStopSec = "10s";
          UMask = "0077";
          # The HTTP parser runs here, apart from the daemon's powers, and holds
          # none: root (host.sock is root's, 0600) without any capability, in a
          # user namespace of its own. See the shipped unit for the reasoning.
          NoNewPrivileges = "yes";
          CapabilityBoundingSet = "";
          AmbientCapabilities = "";
          PrivateUsers = "yes";
          ProtectSystem = "strict";
          ProtectHome = "yes";
          PrivateTmp = "yes";
          PrivateDevices = "yes";
          DevicePolicy = "closed";
          PrivateIPC = "yes";
          RemoveIPC = "yes";
          ProtectProc = "invisible";
          ProcSubset = "pid";
          ProtectKernelTunables = "yes";
          ProtectKernelModules = "yes";
          ProtectKernelLogs = "yes";
          ProtectControlGroups = "yes";
          ProtectClock = "yes";
          ProtectHostname = "yes";
          KeyringMode = "private";
          RestrictAddressFamilies = "AF_UNIX AF_INET AF_INET6";
          # Loopback only, as the listener is; a listener beyond it opens this too.
          IPAddressDeny = "any";
          IPAddressAllow = if isLoopback cfg.dashboard.address then "localhost" else "any";
          RestrictNamespaces = "yes";
          RestrictRealtime = "yes";
          RestrictSUIDSGID = "yes";
          LockPersonality = "yes";
          MemoryDenyWriteExecute = "yes";
          SystemCallArchitectures = "native";
          SystemCallFilter = [ "@system-service" "~@privileged @resources" ];
          SystemCallErrorNumber = "EPERM";
        };
      };
    })
  ]);
}
