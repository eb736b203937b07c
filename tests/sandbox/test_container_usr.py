"""A container whose /usr is not the host's, laid out as NixOS lays out its system profile.

On NixOS the host's /usr holds only ``bin/env``; the module points
``container_usr`` at ``/run/current-system/sw``, a directory of symlinks into
the store, which the containers get read-only beside it. Here a small
profile of the same shape (links into a "store" of copied programs and
their libraries) stands in for it, under the real NspawnBackend and nspawn.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from hive_c0re.lifecycle.backend import Scope
from hive_c0re.lifecycle.nspawn import HostSide, NspawnBackend
from hive_dev.polling import wait_until
from hive_dev.sandbox import Sandbox
from tests.backend_contract import make_spec
from tests.sandbox.test_backend_contract import SandboxSystemctl

LOADER = "lib64/ld-linux-x86-64.so.2"
LIBC = "lib/x86_64-linux-gnu/libc.so.6"
# Only dash's builtins and the two programs: the host's /usr must not show through.
SCRIPT = ("/usr/bin/env sh -c true && test -x /bin/sh && test ! -e /usr/bin/python3 "
          "&& echo from-the-profile > /state/out")


def nixos_like(top: Path) -> tuple[Path, Path]:
    """(store, profile): programs copied into the store, the profile (a link to a
    directory of links) linking to them."""
    store, profile = top / "store" / "x-system", top / "sw"
    wanted = {"bin/sh": "/usr/bin/dash", "bin/env": "/usr/bin/env",
              LOADER: f"/{LOADER}", LIBC: f"/{LIBC}"}
    for inside, source in wanted.items():
        (store / inside).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(Path(source).resolve(), store / inside)
        (profile / inside).parent.mkdir(parents=True, exist_ok=True)
        (profile / inside).symlink_to(store / inside)
    for path in (top, *top.rglob("*")):
        if not path.is_symlink():
            path.chmod(0o755)  # the container reads them as nobody
    # As /run/current-system/sw is: a link, which nspawn resolves at each start.
    (top / "current-sw").symlink_to(profile)
    return store.parent, top / "current-sw"


def test_the_containers_usr_is_the_profile_and_its_links_resolve(sandbox: Sandbox) -> None:
    root = sandbox.dir / "profile-usr"
    store, profile = nixos_like(root / "host")
    backend = NspawnBackend(SandboxSystemctl(Scope.USER, sandbox=sandbox), sandbox.unit_dir,
                            root / "roots", HostSide(usr=profile))
    spec = make_spec(root, "nixie", ["/bin/sh", "-c", SCRIPT], 65536 * 40)
    spec = replace(spec, read_only_binds=[store])
    backend.install(spec)
    try:
        backend.start("nixie")
        out = spec.state_dir / "out"
        wait_until(out.exists, "the container's shell to write /state/out")
        assert out.read_text() == "from-the-profile\n"
    finally:
        backend.uninstall("nixie")
