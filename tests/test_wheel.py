"""A built wheel, installed in a fresh venv, carries the whole contract and works from elsewhere."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHECK_CONTRACT = """
from pathlib import Path
from contract_tests import contract, golden
assert "site-packages" in str(contract.schemas_dir()), contract.schemas_dir()
names = contract.schema_names()
assert {"submit-request", "submit-response", "task", "error", "lifecycle"} <= set(names), names
for name in names:
    contract.validator(name).check_schema(contract.schema(name))
examples = golden.examples()
wrong = [m for m in map(golden.mismatch, examples) if m]
assert not wrong, wrong
assert any(e.breaks for e in examples) and any(e.valid for e in examples)
print(len(names), "schemas;", len(examples), "examples")
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding only the wheel built from this checkout and its dependencies."""
    where = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(where / "dist"), str(ROOT)],
        check=True, capture_output=True,
    )
    wheel = next((where / "dist").glob("*.whl"))
    venv.create(where / "venv", with_pip=True)
    python = where / "venv" / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", str(wheel)], check=True, capture_output=True)
    return python


def test_wheel_carries_every_schema_and_fixture(installed: Path, tmp_path: Path) -> None:
    run = subprocess.run([installed, "-c", CHECK_CONTRACT], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "schemas;" in run.stdout
