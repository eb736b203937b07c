"""The demo's built-in stand-in model: a small, deterministic Messages API server.

``scripts/demo`` points every container's claude CLI at it when no real
credentials are configured, so a hive runs end to end (real CLI, real
harness, real containers) without an account. It is not a language model:
it answers hive mail with a fixed, polite note (:mod:`hive_dev.demo.replies`)
served over the Anthropic Messages API's wire format
(:mod:`hive_dev.demo.model`).
"""
