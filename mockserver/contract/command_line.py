"""Command-line values checked once at the edge against a schema, refused as a usage error naming the option."""

from __future__ import annotations

import argparse
from typing import Any

from .. import contract


def refuse_invalid(
    parser: argparse.ArgumentParser,
    schema: str,
    given: dict[str, Any],
    flags: dict[str, str] | None = None,
    named: dict[str, str] | None = None,
) -> None:
    """Refuse the first value ``schemas/<schema>`` refuses: exit 2 with ``--option: why``, no traceback.

    ``flags`` maps a field to the option that gave it, and ``named`` an option to the environment
    variable its value came from, if it did: the refusal names that instead.
    """
    problems = contract.errors(schema, given, settings=True)
    if problems:
        first = problems[0]
        field = str(next(iter(first.absolute_path), ""))
        option = (flags or {}).get(field, field)
        where = (named or {}).get(option) or f"--{option.replace('_', '-')}"
        parser.error(f"{where}: {contract.describe(first).partition(': ')[2]}")


def given_options(args: argparse.Namespace, names: tuple[str, ...]) -> dict[str, Any]:
    """The options ``names`` that were given (not None), by name, for ``refuse_invalid``."""
    return {name: value for name in names if (value := getattr(args, name)) is not None}
