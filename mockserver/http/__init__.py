"""The HTTP layer: the app and its routes (the contract's, the dialects', the admin API, the dashboard, the
probes and metrics), the ASGI reading and writing of the hot routes, errors, CORS, the journal middleware,
the access log, output files, and the servers the app runs under."""
