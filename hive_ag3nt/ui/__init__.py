"""The agent's own web UI on ``/run/hive/ui.sock``: live panel, prompt box, inbox, login, terminal.

See :mod:`hive_ag3nt.ui.app` for who may reach it and how.
"""
