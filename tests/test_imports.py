"""The import graph runs one way: the kit may use the mock's contract package, the mock never uses the kit."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.processes

# Every module of the mock imported, and an app built and served one request, with the kit unimportable.
WITHOUT_KIT = """
import importlib, pkgutil, sys
sys.modules["contract_tests"] = None  # any import of it, or of a module inside it, now raises ImportError
import mockserver
for module in pkgutil.walk_packages(mockserver.__path__, "mockserver."):
    if not module.name.endswith("__main__"):  # that one runs the CLI
        importlib.import_module(module.name)
from starlette.testclient import TestClient
with TestClient(mockserver.create_app()) as client:
    answer = client.post("/v2/images/generations", json={"prompt": "p", "model": "m"},
                         headers={"Authorization": "Bearer sk-mock-dev"})
print(answer.status_code, sorted(n for n, m in sys.modules.items() if n.startswith("contract_tests") and m))
"""


def test_the_mock_runs_without_the_kit() -> None:
    run = subprocess.run([sys.executable, "-c", WITHOUT_KIT], check=False, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split(maxsplit=1) == ["200", "[]\n"], run.stdout


def test_the_contract_package_imports_neither_side() -> None:
    """``mockserver.contract`` is what both import; loading it must not load the app or the kit."""
    code = (
        "import sys; import mockserver.contract, mockserver.contract.golden, mockserver.contract.openapi; "
        "print(sorted(m for m in sys.modules if m.startswith(('contract_tests', 'mockserver.'))))"
    )
    run = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "['mockserver.contract', 'mockserver.contract.golden', 'mockserver.contract.openapi']"
