"""Run pytest in this process, as a user would run the kit, and keep what it printed.

Pytester's in-process runs forget every module imported during the run, and httpx imports httpcore
lazily: the next test would then meet two copies of httpcore's exception classes. A plain
``pytest.main`` in a scratch directory keeps one copy of everything.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Outcome:
    ret: int
    out: str
    err: str

    def count(self, what: str) -> int:
        """How many tests ended ``what`` (passed, failed, skipped), from the closing line."""
        found = re.findall(rf"(\d+) {what}", self.out.strip().splitlines()[-1] if self.out.strip() else "")
        return int(found[-1]) if found else 0

    def tally(self) -> dict[str, tuple[int, int, int]]:
        """The kit's closing table: how often each check ran, warned and failed.

        Read from the table, not from the findings' text, so that a check named in a warning (or in
        another check's message) is never mistaken for one that failed.
        """
        table = self.out.rpartition(" contract kit ")[2]
        rows = re.finditer(r"^(\w+) +(\d+) +(\d+) +(\d+)$", table, re.MULTILINE)
        return {row[1]: (int(row[2]), int(row[3]), int(row[4])) for row in rows}

    def failed(self, check: str) -> int:
        return self.tally().get(check, (0, 0, 0))[2]

    def warned(self, check: str) -> int:
        return self.tally().get(check, (0, 0, 0))[1]


def run_pytest(where: Path, *args: str) -> Outcome:
    """``pytest ARGS`` with ``where`` as the working directory, so no project's configuration applies."""
    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    os.chdir(where)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            ret = pytest.main([*args, "-p", "no:cacheprovider", "--capture=sys"])
    finally:
        os.chdir(here)
    return Outcome(int(ret), out.getvalue(), err.getvalue())
