"""The mock's engine: what a submit becomes and what a poll sees, as pure functions of a record and the clock.

No Starlette, sockets or SQL here (``pyproject.toml``'s import contracts hold it so): the config and its
profiles, the catalog, scenarios and lifecycles, each task's draws, ids and nonces, the packed fields
(``encodings``), the fault and rule decisions, and the ``Service`` the HTTP layer holds.
"""
