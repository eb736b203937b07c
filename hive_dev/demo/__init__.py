"""The demo: a throwaway hive, its tour and its shell (``python -m hive_dev.demo``).

``scripts/demo`` checks, sets up and picks where the hive runs (a systemd
host, or the sandbox), then hands over to :mod:`hive_dev.demo.__main__`.
Without real credentials every container's claude CLI talks to the demo's
stand-in model (:mod:`hive_dev.demo.model`): not a language model, it
answers hive mail with a fixed, polite note (:mod:`hive_dev.demo.replies`)
over the Anthropic Messages API's wire format, so a hive runs end to end
(real CLI, real harness, real containers) without an account.
"""
