"""Load the contract from ``schemas/``: the one place every other module reads it from.

The schemas and fixtures live at the repository root; a built wheel carries them inside this
package. Both the mock and the kit import this package, and it imports neither of them: it lives
under ``mockserver`` only so that one installed name carries it.
"""

from __future__ import annotations

import json
import math
import re
import reprlib
from collections.abc import Iterator
from functools import cache
from itertools import islice, pairwise
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

_HERE = Path(__file__).resolve().parent
BASE_ID = "https://unified-generations.example/schemas/"
LIMIT = 16  # errors looked at per instance: enough to pick the deepest, few enough that a huge body costs little
QUOTE = 60  # characters of a value an error message quotes


def _data_dir(name: str) -> Path:
    for candidate in (_HERE / name, _HERE.parent.parent / name):
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
    return Registry().with_resources((r.id() or "", r) for r in resources)  # every schema has an $id


@cache
def validator(name: str) -> Any:
    """Draft 2020-12, with ``pattern`` read as ECMA-262 reads it (``_pattern``), as JSON Schema intends."""
    return _Contract(schema(name), registry=registry())


def _number(checker: Any, instance: Any) -> bool:
    """A finite number: TOML reads ``nan`` and ``inf``, which pass every range test JSON Schema has."""
    if isinstance(instance, bool) or not isinstance(instance, int | float):
        return False
    return isinstance(instance, int) or math.isfinite(instance)


def _integer(checker: Any, instance: Any) -> bool:
    """An integer written as one: 2020-12 counts ``2.0``, but ``"15.0%"`` and ``Retry-After: 2.0`` follow."""
    return isinstance(instance, int) and not isinstance(instance, bool)


def _ordered(validator: Any, groups: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    """``x-ordered``: ``true`` on an array, whose items must not go down; or lists of property names."""
    if isinstance(instance, list) and groups is True:
        pairs = [(f"item {i}", a, f"item {i + 1}", b) for i, (a, b) in enumerate(pairwise(instance))]
    elif isinstance(instance, dict) and isinstance(groups, list):
        pairs = []
        for group in groups:
            present = [name for name in group if name in instance]
            pairs += [(a, instance[a], b, instance[b]) for a, b in pairwise(present)]
    else:
        return
    for first, low, second, high in pairs:
        if _number(None, low) and _number(None, high) and low > high:
            yield ValidationError(f"{first} ({low!r}) is above {second} ({high!r})")


def _at_most(validator: Any, most: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    """``x-at-most``: no number anywhere in the value passes ``most`` (a latency's every parameter)."""
    stack = [instance]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif _number(None, value) and value > most:
            yield ValidationError(f"{value!r} is above {most}, the most this value may hold")
            return


def ecma_regex(pattern: str) -> str:
    """``pattern`` for Python's ``re`` with ``$`` read as ECMA-262 (JSON Schema's dialect) reads it.

    An anchor ``$`` becomes ``\\Z``, the end of the string: Python's ``$`` also matches before a final
    newline, so ``^[!-~]+$`` took a key ending in one, which no header can carry. A ``$`` inside ``[...]``
    is written ``\\$``, the same character, so that a tool which rewrites bare ``$`` leaves it alone.
    """
    out, in_class, escaped = [], False, False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char == "$":
            char = "\\$" if in_class else "\\Z"
        out.append(char)
    return "".join(out)


@cache
def _compiled_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(ecma_regex(pattern))


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _compiled_pattern(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _sum_at_most(validator: Any, rule: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    """``x-sum-at-most``: each group of rates adds up to ``most`` at most (one draw decides among them)."""
    if not isinstance(instance, dict):
        return
    for group in rule["groups"]:
        rates = {name: instance[name] for name in group if _number(None, instance.get(name))}
        if sum(rates.values()) > rule["most"]:
            shown = " + ".join(f"{name} {value!r}" for name, value in rates.items())
            yield ValidationError(f"{shown} add up to more than {rule['most']}, so some could never happen")


# Python's $ matched before a final newline, so the fallback took "16:9\n" that the fast path refused.
_Contract = validators.extend(Draft202012Validator, {"pattern": _pattern})

_Settings = validators.extend(
    _Contract,
    {"x-ordered": _ordered, "x-at-most": _at_most, "x-sum-at-most": _sum_at_most},
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine_many({"number": _number, "integer": _integer}),
)


@cache
def settings_validator(name: str) -> Any:
    """``validator`` for the mock's own settings (config, CLI and admin bodies): finite numbers only, integers
    without a fraction, ``$`` as the end of the string, and the ``x-ordered`` keyword (low <= high) that plain
    JSON Schema cannot say."""
    return _Settings(schema(name), registry=registry())


def errors(name: str, instance: Any, *, settings: bool = False, limit: int = LIMIT) -> list[ValidationError]:
    """Ways ``instance`` breaks ``schemas/<name>.json``, deepest cause first: at most ``limit`` of them.

    A body of a million wrong items has a million errors; building them all took gigabytes, and one is
    answered. ``settings`` judges with ``settings_validator``.
    """
    judge = settings_validator(name) if settings else validator(name)
    found = list(islice(judge.iter_errors(instance), limit))
    return sorted(found, key=lambda e: (-len(e.absolute_path), e.json_path))


def is_valid(name: str, instance: Any) -> bool:
    return validator(name).is_valid(instance)


def location(error: ValidationError) -> str:
    """The JSON pointer of the field at fault; for a missing field, the field itself."""
    parts = [str(p) for p in error.absolute_path]
    required = error.validator_value  # "required"'s list of names
    if error.validator == "required" and isinstance(error.instance, dict) and isinstance(required, list):
        missing = [name for name in required if name not in error.instance]
        parts += missing[:1]
    return "".join(f"/{p}" for p in parts)


def describe(error: ValidationError) -> str:
    """One line a person can act on: where, and what was wrong; a value is quoted cut short."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        return "; ".join(describe(e) for e in _closest(error.context))
    where = _short(location(error).lstrip("/").replace("/", ".")) or "body"
    said = error.validator == "pattern" and isinstance(error.schema, dict) and error.schema.get("x-pattern-message")
    if said:  # the schema's words for a pattern that reads as noise, such as a spelled-out class of white space
        return f"{where}: {quote(error.instance)} {said}"
    message = error.message
    if error.validator == "type" and isinstance(error.instance, float) and not math.isfinite(error.instance):
        message = f"{error.instance} is not a finite number"
    elif len(message) > 4 * QUOTE:  # jsonschema quotes the whole value: a 2 MB field gave a 2 MB answer
        shown = quote(error.instance)
        whole = _repr(error.instance)
        message = shown + message[len(whole) :] if whole and message.startswith(whole) else _short(message, 4 * QUOTE)
    return f"{where}: {message}"


def quote(value: Any) -> str:
    """``repr(value)``, kept to about QUOTE characters whatever the value's size or depth."""
    return _short(_quoting.repr(value), QUOTE)


def _repr(value: Any) -> str:
    try:
        return repr(value)
    except RecursionError:
        return ""


def _short(text: str, most: int = 2 * QUOTE) -> str:
    return text if len(text) <= most else text[: most - 3] + "..."


def _quoter() -> reprlib.Repr:
    quoting = reprlib.Repr()  # keyword arguments only from Python 3.12
    quoting.maxlevel, quoting.maxstring, quoting.maxother, quoting.maxlist, quoting.maxdict = 3, QUOTE, QUOTE, 4, 4
    return quoting


_quoting = _quoter()


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
def _property_validator(name: str, prop: str) -> Any:
    return _Contract({"$ref": f"{schema(name)['$id']}#/properties/{prop}"}, registry=registry())


def property_valid(name: str, prop: str, value: Any) -> bool:
    """Whether ``value`` is allowed for the property ``prop`` of ``schemas/<name>.json``, on its own."""
    return _property_validator(name, prop).is_valid(value)
