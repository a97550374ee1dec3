"""Every golden example is accepted or refused by the schemas, and refused for its named reason."""

from __future__ import annotations

import pytest

from mockserver import contract
from mockserver.contract import golden

EXAMPLES = golden.examples()
SPEC = contract.fixtures_dir() / "spec"
ORIGINAL = SPEC / "unified-interface.zh.md"  # the authority; unified-interface.en.md is its translation


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
def test_example_breaks_exactly_its_rules(example: golden.Example) -> None:
    assert golden.mismatch(example) is None


@pytest.mark.parametrize("example", [e for e in EXAMPLES if e.breaks], ids=lambda e: e.name)
def test_invalid_example_names_a_rule_of_its_schema(example: golden.Example) -> None:
    for rule in example.breaks:
        assert golden.rules()[rule]["schema"] == example.schema


def test_every_rule_has_an_example() -> None:
    used = {rule for e in EXAMPLES for rule in e.breaks}
    assert set(golden.rules()) - used == set()


def test_every_schema_has_valid_and_invalid_examples() -> None:
    dialects = (
        "newapi-video-request",
        "newapi-task",
        "newapi-error",
        "openai-video-request",
        "openai-video",
        "openai-error",
    )
    for name in ("submit-request", "submit-response", "task", "error", *dialects):
        kinds = {e.valid for e in EXAMPLES if e.schema == name}
        assert kinds == {True, False}, name


@pytest.mark.parametrize("name", sorted(golden.manifest()["spec"]))
def test_spec_fixture_is_verbatim(name: str) -> None:
    text = (contract.fixtures_dir() / name).read_text(encoding="utf-8")
    assert text.strip() and text in ORIGINAL.read_text(encoding="utf-8")


def test_spec_real_examples_validate_unchanged() -> None:
    real = [e for e in EXAMPLES if e.name.startswith("spec/example-")]
    assert {e.schema for e in real} == {"submit-request", "submit-response", "task"}
    assert all(contract.is_valid(e.schema, e.instance) for e in real)


def test_spec_templates_are_refused() -> None:
    templates = {e.name: e for e in EXAMPLES if e.name.startswith("spec/endpoints-")}
    assert templates["spec/endpoints-submit-request.jsonc"].breaks
    assert templates["spec/endpoints-task.jsonc"].breaks
    assert not contract.is_valid("task", templates["spec/endpoints-task.jsonc"].instance)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{\n"a": "x // not a comment", // comment\n......\n}', {"a": "x // not a comment"}),
        ('{\n"d": {\n"o": ["",""],\nother...\n},\n}', {"d": {"o": ["", ""]}}),
        ('{"q": "say \\"hi\\" // still text"}', {"q": 'say "hi" // still text'}),
    ],
)
def test_spec_template_reading_drops_only_comments_ellipses_and_trailing_commas(text: str, expected: object) -> None:
    assert golden.parse_spec_template(text) == expected
