"""The compiled validator never lets through a body that ``schemas/`` refuses."""

from __future__ import annotations

import json
from typing import Any

import fastjsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockserver import contract
from mockserver.engine import validate

NAME = "submit-request"
FIELDS = sorted(contract.schema(NAME)["properties"])
FIXTURES = sorted((contract.fixtures_dir() / NAME).glob("*/*.json"))


def _patterns(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["pattern"]] if "pattern" in node else []
        return own + [p for v in node.values() for p in _patterns(v)]
    if isinstance(node, list):
        return [p for v in node for p in _patterns(v)]
    return []


# near-misses as well as hits: strings matching each pattern of the contract, sometimes with a newline
# after them (Python's $ allows one) or around them
matching = st.sampled_from(_patterns(contract.schema("common"))).flatmap(lambda p: st.from_regex(p))
texts = st.one_of(st.text(max_size=12), matching, matching.map(lambda s: s + "\n"), matching.map(lambda s: " " + s))
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), texts)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3), max_leaves=6
)
bodies = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=5), values, max_size=6)


def test_the_contract_schema_compiles() -> None:
    assert validate._compiled(NAME) is not None, "submit-request.json uses a keyword the fast path does not take"


@settings(max_examples=250)
@given(bodies)
@pytest.mark.slow
def test_the_fast_path_accepts_exactly_what_the_contract_accepts(body: dict[str, Any]) -> None:
    """Accepting more would let bad bodies in; refusing more would send valid ones down the slow path."""
    fast = validate._compiled(NAME)
    assert fast is not None
    try:
        fast(body)
    except fastjsonschema.JsonSchemaException:
        accepted = False
    else:
        accepted = True
    assert accepted == contract.is_valid(NAME, body), body


def test_problems_are_the_contracts_own_and_asked_for_only_when_the_fast_path_refuses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[Any] = []
    said = [object()]
    monkeypatch.setattr(validate.contract, "errors", lambda name, body: asked.append(body) or said)
    valid, invalid = {"prompt": "p", "model": "m"}, {"prompt": "p"}
    assert validate.problems(NAME, valid) == [] and asked == []
    assert validate.problems(NAME, invalid) is said and asked == [invalid]


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_golden_bodies_judged_alike(path: Any) -> None:
    body = json.loads(path.read_text(encoding="utf-8"))
    assert bool(validate.problems(NAME, body)) == (not contract.is_valid(NAME, body)) == (path.parent.name == "invalid")


def test_dollar_inside_a_class_is_escaped_and_anchors_end_the_string() -> None:
    assert contract.ecma_regex(r"^[a$]\$[^$]$") == r"^[a\$]\$[^\$]\Z"
