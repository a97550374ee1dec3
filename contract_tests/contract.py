"""Load the contract from ``schemas/``: the one place every other module reads it from.

The schemas and fixtures live at the repository root; a built wheel carries them
inside this package, so both places are looked at.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

_HERE = Path(__file__).resolve().parent
BASE_ID = "https://unified-generations.example/schemas/"


def _data_dir(name: str) -> Path:
    for candidate in (_HERE / name, _HERE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the contract's {name}/ directory is missing beside {_HERE}")


def schemas_dir() -> Path:
    return _data_dir("schemas")


def fixtures_dir() -> Path:
    return _data_dir("fixtures")


@cache
def schema(name: str) -> dict[str, Any]:
    """The schema document ``schemas/<name>.json``."""
    return json.loads((schemas_dir() / f"{name}.json").read_text(encoding="utf-8"))


def schema_names() -> list[str]:
    """Every JSON Schema in ``schemas/`` (the OpenAPI document is not one)."""
    return sorted(p.stem for p in schemas_dir().glob("*.json") if p.stem != "openapi")


@cache
def registry() -> Registry:
    """All schemas by ``$id``, so ``$ref`` resolves offline."""
    resources = [Resource.from_contents(schema(n)) for n in schema_names()]
    return Registry().with_resources((r.id(), r) for r in resources)


@cache
def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(schema(name), registry=registry())


def errors(name: str, instance: Any) -> list[ValidationError]:
    """Every way ``instance`` breaks ``schemas/<name>.json``, deepest cause first."""
    found = list(validator(name).iter_errors(instance))
    return sorted(found, key=lambda e: (-len(e.absolute_path), e.json_path))


def is_valid(name: str, instance: Any) -> bool:
    return validator(name).is_valid(instance)


def location(error: ValidationError) -> str:
    """The JSON pointer of the field at fault; for a missing field, the field itself."""
    parts = [str(p) for p in error.absolute_path]
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [name for name in error.validator_value if name not in error.instance]
        parts += missing[:1]
    return "".join(f"/{p}" for p in parts)


def describe(error: ValidationError) -> str:
    """One line a person can act on: where, and what was wrong."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        return "; ".join(describe(e) for e in _closest(error.context))
    where = location(error).lstrip("/").replace("/", ".") or "body"
    said = error.validator == "pattern" and isinstance(error.schema, dict) and error.schema.get("x-pattern-message")
    if said:  # the schema's words for a pattern that reads as noise, such as a spelled-out class of white space
        shown = repr(error.instance)
        return f"{where}: {shown if len(shown) <= 60 else shown[:57] + '...'} {said}"
    return f"{where}: {error.message}"


def _closest(errors: list[ValidationError]) -> list[ValidationError]:
    """The errors of the alternative that came nearest: the value has its type, and the fewest failures.

    "Not valid under any of the given schemas" names no cause; a timing table with ``dist = "normal"``
    and no ``sd`` is nearest the normal alternative, and its one failure is what to mend.
    """
    branches: dict[Any, list[ValidationError]] = {}
    for e in errors:
        branches.setdefault(e.relative_schema_path[0], []).append(e)
    return min(branches.values(), key=lambda found: (all(e.validator == "type" for e in found), len(found)))


@cache
def lifecycle() -> dict[str, Any]:
    """The cross-poll rules, checked against their own schema before use."""
    doc = schema("lifecycle")
    rules = doc["x-rules"]
    validator("lifecycle").validate(rules)
    return rules


@cache
def error_table() -> dict[int, dict[str, Any]]:
    """``x-errors`` of ``error.json`` by HTTP status."""
    return {row["status"]: row for row in schema("error")["x-errors"]}


def media_type(scope: str) -> str:
    """The top-level media type of a scope's outputs (``image`` for ``images``)."""
    return schema("common")["$defs"]["scope"]["x-media-types"][scope]


@cache
def _property_validator(name: str, prop: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"{schema(name)['$id']}#/properties/{prop}"}, registry=registry())


def property_valid(name: str, prop: str, value: Any) -> bool:
    """Whether ``value`` is allowed for the property ``prop`` of ``schemas/<name>.json``, on its own."""
    return _property_validator(name, prop).is_valid(value)
