"""Agents' containers: backends (nspawn, nixos), state dirs and config repos."""
