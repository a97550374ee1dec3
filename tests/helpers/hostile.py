"""Hypothesis strategies for the mock's own settings: values shaped by a schema, with hostile ones mixed in.

The shape (which keys, which nesting, which alternatives) is read from the schema, so the draws reach
deep fields such as a profile's ``run.sigma``; at every leaf, a hostile value may stand in for a
lawful one: NaN, infinities, numbers past a double's range or a range's ends, whole-number floats,
empty, long and non-ASCII text, and wrong types.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import strategies as st

from mockserver import contract

HOSTILE = st.sampled_from(
    [
        math.nan,
        math.inf,
        -math.inf,
        1e308,
        -1e308,
        10**30,
        -(10**30),
        -1,
        0,
        2.0,
        0.5,
        1e-300,
        True,
        "",
        " ",
        "é",
        "x" * 5000,
        [],
        {},
    ]
)


def _resolve(node: dict[str, Any], resolver: Any) -> tuple[dict[str, Any], Any]:
    while isinstance(node, dict) and "$ref" in node:
        found = resolver.lookup(node["$ref"])
        here = {k: v for k, v in node.items() if k != "$ref"}
        properties = {**found.contents.get("properties", {}), **here.get("properties", {})}
        node, resolver = {**found.contents, **here, "properties": properties}, found.resolver
    return node, resolver


def _lawful(node: Any, resolver: Any, depth: int) -> st.SearchStrategy[Any]:
    if node is True or not isinstance(node, dict):
        return st.none()
    node, resolver = _resolve(node, resolver)
    for key in ("oneOf", "anyOf"):
        if key in node:
            return st.one_of([shaped(branch, resolver, depth) for branch in node[key]])
    if "const" in node:
        return st.just(node["const"])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    kind = node.get("type")
    low, high = node.get("minimum", node.get("exclusiveMinimum", -1e6)), node.get("maximum", 1e6)
    if kind == "integer":
        return st.integers(int(low), int(high))
    if kind == "number":
        return st.floats(low, high, allow_nan=False) | st.integers(math.ceil(low), math.floor(high))
    if kind == "boolean":
        return st.booleans()
    if kind == "string":
        return st.from_regex(node["pattern"], fullmatch=True) if "pattern" in node else st.text(min_size=1, max_size=8)
    if kind == "array" or "prefixItems" in node:
        items = [shaped(item, resolver, depth) for item in node.get("prefixItems", [])]
        if items:
            return st.tuples(*items).map(list)
        return st.lists(shaped(node.get("items", True), resolver, depth), max_size=3)
    if kind == "object" or "properties" in node or "additionalProperties" in node:
        return _object(node, resolver, depth)
    return st.none()


def _object(node: dict[str, Any], resolver: Any, depth: int) -> st.SearchStrategy[dict[str, Any]]:
    if depth > 4:
        return st.just({})
    fields = {name: shaped(sub, resolver, depth + 1) for name, sub in node.get("properties", {}).items()}
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        names = node.get("propertyNames", {})
        names, _ = _resolve(names, resolver)
        key = (
            st.sampled_from(names["enum"]) if "enum" in names else st.sampled_from(["videos", "veo3", "my-model", "x"])
        )
        fields_of_extra = st.dictionaries(key, shaped(extra, resolver, depth + 1), max_size=2)
    else:
        fields_of_extra = st.just({})
    required = {name: fields.pop(name) for name in node.get("required", []) if name in fields}
    chosen = st.fixed_dictionaries(required, optional=fields)
    return st.tuples(chosen, fields_of_extra).map(lambda pair: {**pair[1], **pair[0]})


def shaped(node: Any, resolver: Any = None, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values in the shape of ``node``, one value in ten hostile: enough that a draw of a dozen fields is
    often refused, and often taken."""
    lawful = _lawful(node, resolver, depth)
    return st.integers(0, 9).flatmap(lambda n: HOSTILE if n == 0 else lawful)


def for_schema(name: str) -> st.SearchStrategy[Any]:
    """Documents in the shape of ``schemas/<name>.json``: always of its type, hostile below."""
    document = contract.schema(name)
    return _lawful(document, contract.registry().resolver(base_uri=document["$id"]), 0)
