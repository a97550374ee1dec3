"""The project's own tests: a package, so that every helper is imported one way, from ``tests.helpers``."""
