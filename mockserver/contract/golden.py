"""The golden examples in ``fixtures/``: what the contract accepts and refuses, and why.

Layout: ``fixtures/<schema>/valid/*.json`` must validate; ``fixtures/<schema>/invalid/<rule>[--variant].json``
must break exactly the rule its name gives. The spec's own blocks live verbatim in ``fixtures/spec/``, beside
the spec itself, and ``fixtures/manifest.json`` says which rules each breaks. Rules, and where each is found,
are listed in the manifest too, so a failure names its reason rather than merely failing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from mockserver import contract


@dataclass(frozen=True)
class Example:
    path: Path
    schema: str
    instance: Any
    breaks: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.path.relative_to(contract.fixtures_dir()).as_posix()

    @property
    def valid(self) -> bool:
        return not self.breaks


@cache
def manifest() -> dict[str, Any]:
    return json.loads((contract.fixtures_dir() / "manifest.json").read_text(encoding="utf-8"))


def rules() -> dict[str, dict[str, str]]:
    """Each named rule: the schema it belongs to, the JSON pointer it concerns, and our reading."""
    return manifest()["rules"]


def parse_spec_template(text: str) -> Any:
    """Read one of the spec's template blocks as the JSON it stands for.

    The spec writes them with ``//`` comments, ``......``/``other...`` lines for "more may follow"
    and trailing commas. Those are dropped; nothing else is changed.
    """
    kept = []
    for line in text.splitlines():
        code = _strip_comment(line).rstrip()
        if code.strip().rstrip(".") not in ("", "other"):
            kept.append(code)
    return json.loads(re.sub(r",(\s*[}\]])", r"\1", "\n".join(kept)))


def _strip_comment(line: str) -> str:
    in_string, i = False, 0
    while i < len(line):
        char = line[i]
        if in_string:
            if char == "\\":
                i += 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif line.startswith("//", i):
            return line[:i]
        i += 1
    return line


def _load(path: Path, parse: str) -> Any:
    text = path.read_text(encoding="utf-8")
    return parse_spec_template(text) if parse == "spec-template" else json.loads(text)


def examples(schema: str | None = None) -> list[Example]:
    """Every golden example, optionally only those for one schema."""
    root = contract.fixtures_dir()
    found = [
        Example(root / name, entry["schema"], _load(root / name, entry["parse"]), tuple(entry["breaks"]))
        for name, entry in manifest()["spec"].items()
    ]
    for path in sorted(root.glob("*/valid/*.json")) + sorted(root.glob("*/invalid/*.json")):
        rule = path.stem.split("--")[0] if path.parent.name == "invalid" else None
        found.append(Example(path, path.parent.parent.name, _load(path, "json"), (rule,) if rule else ()))
    return [e for e in found if schema is None or e.schema == schema]


def _pattern(pointer: str) -> str:
    """Array indices become ``*``: a rule about items holds at every index."""
    return "/".join("*" if part.isdigit() else part for part in pointer.split("/"))


def mismatch(example: Example) -> str | None:
    """Why the schema's verdict on ``example`` differs from the rules it names, or None if it agrees."""
    problems = contract.errors(example.schema, example.instance)
    found = {_pattern(contract.location(e)) for e in problems}
    expected = {rules()[rule]["at"] for rule in example.breaks}
    if found == expected:
        return None
    said = "; ".join(contract.describe(e) for e in problems) or "no error"
    return f"{example.name}: expected errors at {sorted(expected)}, schema said: {said}"
