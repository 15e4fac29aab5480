"""Logwarden: a log-aggregation and SIEM pipeline appliance.

This top-level package is the small core shared by every stage: the event model,
configuration loading, the CLI, the worker shell, the HTTP app and the supervisor.
Each stage lives in its own subpackage (`logwarden.broker`, `logwarden.parsers`, ...),
built from the repository's root folders of the same name.
"""
__version__ = "0.1.0"
