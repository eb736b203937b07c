"""What the tests here need: Nix, and for evaluating the modules nixpkgs' lib.

Without them a test is skipped, saying which is missing and how to get it.
"""

from __future__ import annotations

import pytest

from hive_dev.nix import NixMissing, nix_lib, nix_program


@pytest.fixture(scope="session")
def nix_instantiate() -> str:
    try:
        return nix_program("nix-instantiate")
    except NixMissing as missing:
        pytest.skip(str(missing))


@pytest.fixture(scope="session")
def nixpkgs_lib(nix_instantiate: str) -> None:
    try:
        nix_lib()
    except NixMissing as missing:
        pytest.skip(str(missing))
