"""Command-line values checked once at the edge against a schema, refused as a usage error naming the option."""

from __future__ import annotations

import argparse
from typing import Any

from . import contract


def check(
    parser: argparse.ArgumentParser, schema: str, given: dict[str, Any], flags: dict[str, str] | None = None
) -> None:
    """Refuse the first value ``schemas/<schema>`` refuses: exit 2 with ``--option: why``, no traceback."""
    problems = contract.errors(schema, given, settings=True)
    if problems:
        first = problems[0]
        field = next(iter(first.absolute_path), "")
        where = f"--{(flags or {}).get(str(field), str(field)).replace('_', '-')}"
        parser.error(f"{where}: {contract.describe(first).partition(': ')[2]}")
