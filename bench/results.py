"""``bench/results.json``: every measured figure the docs show, dated and with the machine it came from.

``run.py`` appends each run to ``runs``; ``instructions.py`` and ``threads.py`` replace their own sections, and
the one-off scripts (``recording.py``, ``bigstore.py``, ``media.py``) theirs through
``measured``. ``history`` lists what past changes bought, each dated, with what was measured before and
after and the commit that recorded it. ``python docs/gen.py`` writes the docs' tables and figures from this
file, so no figure is typed into a page.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

PATH = Path(__file__).resolve().parent / "results.json"


def stamp() -> dict[str, str]:
    """Today's date and this machine, for a section or run of the file."""
    return {
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "machine": f"{platform.node()}: {os.cpu_count()} cores, {platform.platform()}",
    }


def _write(path: Path, results: dict[str, Any]) -> None:
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def append_run(run: dict[str, Any], path: Path = PATH) -> None:
    """Add a run of ``run.py``; the file keeps every run, and the docs show the last two."""
    results = json.loads(path.read_text(encoding="utf-8"))
    results["runs"].append(run)
    _write(path, results)


def update(section: str, values: dict[str, Any], source: str, path: Path = PATH) -> None:
    """Replace some figures of one section (``instructions``), keeping its others, dated and with their source."""
    results = json.loads(path.read_text(encoding="utf-8"))
    results[section] = {**results.get(section, {}), **stamp(), "source": source, **values}
    _write(path, results)


def measured(section: str, figures: dict[str, tuple[float, str]], source: str, command: str, path: Path = PATH) -> None:
    """Replace a section of one-off figures (what was measured → value and unit), dated, with the command."""
    update(section, {"command": command, "figures": {what: list(v) for what, v in figures.items()}}, source, path)
