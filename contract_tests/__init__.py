"""The contract kit for the unified generations API.

Importing this package does nothing: the pytest plugin (``contract_tests.plugin``)
stays inert unless its options are given.
"""
