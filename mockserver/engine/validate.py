"""Request validation that is fast when the body is good, and says why through ``contract`` when not.

``jsonschema`` walks the schema and resolves each ``$ref`` on every call, which cost the submit path
most of its time. Here the schema is generated into Python code once, by fastjsonschema, from
``schemas/`` itself: the ``$ref``s are inlined from the contract's registry and the result is compiled
as draft 7. It is only trusted to say "valid", and only for schemas whose keywords mean the same in
draft 7 and 2020-12; any body it refuses is judged again by ``contract.errors``, which also words the
answer. So the contract stays the one source of truth, and behaviour is exactly jsonschema's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any, Protocol

import fastjsonschema
from jsonschema.exceptions import ValidationError

from .. import contract
from .jsonio import TooDeep

# Keywords with one meaning in draft 7 and in 2020-12; a schema using any other is not compiled.
_SAME_IN_BOTH = frozenset(
    [
        "type",
        "enum",
        "const",
        "required",
        "properties",
        "additionalProperties",
        "items",
        "anyOf",
        "oneOf",
        "allOf",
        "not",
        "pattern",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minItems",
        "maxItems",
        "uniqueItems",
        "minProperties",
        "maxProperties",
        "multipleOf",
        "title",
        "description",
        "examples",
        "default",
        "$comment",
    ]
)
_SUBSCHEMA_MAPS = frozenset({"properties"})
_SUBSCHEMA_LISTS = frozenset({"anyOf", "oneOf", "allOf"})
_SUBSCHEMAS = frozenset({"additionalProperties", "items", "not"})


class _Unsupported(Exception):
    """The schema uses something the draft-7 compiler could read differently."""


class Resolver(Protocol):
    """What ``_inline`` uses of a ``referencing`` resolver (``Registry.resolver()``), whose class is private."""

    def lookup(self, ref: str) -> Any: ...


def _inline(node: Any, resolver: Resolver, depth: int = 0) -> Any:
    """``node`` with every ``$ref`` replaced by its target, and nothing outside the shared keywords."""
    if isinstance(node, bool):
        return node
    if depth > 32 or not isinstance(node, dict):
        raise _Unsupported(node)
    out: dict[str, Any] = {}
    if "$ref" in node:
        resolved = resolver.lookup(node["$ref"])
        # siblings of $ref apply too in 2020-12, but are ignored in draft 7: keep both under allOf
        out["allOf"] = [_inline(resolved.contents, resolved.resolver, depth + 1)]
    for key, value in node.items():
        if key in ("$ref", "$schema", "$id", "$defs") or key.startswith("x-"):
            continue
        if key == "prefixItems" and "items" not in node:  # 2020-12's tuple form is draft 7's list of items
            out["items"] = [_inline(sub, resolver, depth + 1) for sub in value]
            continue
        if key not in _SAME_IN_BOTH:
            raise _Unsupported(key)
        if key in _SUBSCHEMA_MAPS:
            out[key] = {name: _inline(sub, resolver, depth + 1) for name, sub in value.items()}
        elif key in _SUBSCHEMA_LISTS:
            out[key] = out.get(key, []) + [_inline(sub, resolver, depth + 1) for sub in value]
        elif key in _SUBSCHEMAS:
            out[key] = _inline(value, resolver, depth + 1)
        elif key == "pattern":
            out[key] = contract.ecma_regex(value)  # as fastjsonschema would, but not inside [...]
        else:
            out[key] = value
    return out


@cache
def _compiled(name: str) -> Callable[[Any], Any] | None:
    document = contract.schema(name)
    resolver = contract.registry().resolver(base_uri=document.get("$id", ""))
    try:
        inlined = _inline(document, resolver)
    except _Unsupported:
        return None
    return fastjsonschema.compile({"$schema": "http://json-schema.org/draft-07/schema#", **inlined})


def problems(name: str, instance: Any) -> list[ValidationError]:
    """``contract.errors(name, instance)``, without its cost for a valid instance.

    Raises ``TooDeep`` for a value nested past what jsonschema can quote (about 975 levels, where
    orjson parses 1024): the same refusal as a body too deep to parse.
    """
    fast = _compiled(name)
    if fast is not None:
        try:
            fast(instance)
            return []
        except fastjsonschema.JsonSchemaValueException:
            pass
    try:
        return contract.errors(name, instance)
    except RecursionError as exc:
        raise TooDeep from exc


def checked(name: str, payload: dict[str, Any]) -> list[ValidationError]:
    """``problems`` of a body, after reading its numbers written as strings, only if it is refused as sent.

    A body that sends numbers is judged once, as before; one that sends ``"duration": "10"`` is judged
    again with the number in place (``read_numbers``), so a refusal still names the field it is about.
    """
    found = problems(name, payload)
    if found and read_numbers(name, payload):
        found = problems(name, payload)
    return found


def read_numbers(name: str, payload: dict[str, Any]) -> bool:
    """Each property the schema marks ``x-numeric-string`` that holds a numeric string, set to its number in
    place (``"10"`` to 10, ``"5.5"`` to 5.5); whether any was. The form is common.json's ``numericString``."""
    numeric = _numeric_string()
    changed = False
    for field in _numeric_fields(name):
        value = payload.get(field)
        if isinstance(value, str) and numeric.fullmatch(value):
            payload[field] = float(value) if "." in value else int(value)
            changed = True
    return changed


@cache
def _numeric_fields(name: str) -> tuple[str, ...]:
    properties = contract.schema(name).get("properties", {})
    return tuple(field for field, node in properties.items() if node.get("x-numeric-string"))


@cache
def _numeric_string() -> re.Pattern[str]:
    return re.compile(contract.ecma_regex(contract.schema("common")["$defs"]["numericString"]["pattern"]))
