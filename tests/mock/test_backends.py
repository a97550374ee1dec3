"""``stores.open_backend``: the one place that reads ``--store`` and bundles what each backend keeps."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mockserver.engine import scenarios
from mockserver.engine.rules import Rule
from mockserver.stores import check_spec, open_backend

SETTINGS = {"seed": 7, "reasons": ("quota",), "journal_size": 10}


def test_memory_is_this_process_alone_and_may_rebuild_tasks_from_ids() -> None:
    backend = open_backend("memory", **SETTINGS)
    assert (backend.shared, backend.complete, backend.listener) == (False, False, None)
    assert backend.local is not None and backend.ready() == {}


def test_a_sqlite_file_shares_its_rules_with_every_backend_opened_on_it(tmp_path: Path) -> None:
    spec = f"sqlite:{tmp_path / 'mock.db'}"
    first, second = open_backend(spec, **SETTINGS), open_backend(spec, **SETTINGS)
    assert (first.shared, first.complete) == (True, False)
    choice = scenarios.parse("fail-quota", SETTINGS["reasons"])
    added = asyncio.run(first.rules.add(Rule(0, "fail-quota", choice, 1, None, None, None, None, None)))
    assert [rule.number for rule in asyncio.run(second.rules.listing())] == [added.number]


@pytest.mark.parametrize("spec", ["nope", "memory:x", "sqlite:", "file:/tmp/x"])
def test_an_unknown_store_is_refused_naming_the_kinds(spec: str) -> None:
    for refuse in (lambda: open_backend(spec, **SETTINGS), lambda: check_spec(spec)):
        with pytest.raises(ValueError, match="use memory, sqlite:PATH or redis://HOST:PORT/DB"):
            refuse()
