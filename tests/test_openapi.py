"""The OpenAPI document is generated, current, valid, and means what the schemas mean."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from mockserver import contract
from mockserver.contract import golden, openapi

COMMITTED = json.loads((contract.schemas_dir() / "openapi.json").read_text(encoding="utf-8"))


def test_committed_document_is_not_stale() -> None:
    assert openapi.main(["--check"]) == 0, "run: python -m mockserver.contract.openapi"


def test_document_is_valid_openapi_3_1() -> None:
    validate(COMMITTED)
    assert COMMITTED["openapi"].startswith("3.1")


def test_every_error_status_of_the_contract_is_documented_on_every_operation() -> None:
    statuses = {str(s) for s in contract.error_table()}
    for path in COMMITTED["paths"].values():
        for operation in path.values():
            assert statuses | {"200"} == set(operation["responses"])


@pytest.mark.parametrize("example", golden.examples(), ids=lambda e: e.name)
def test_components_accept_exactly_what_the_schemas_accept(example: golden.Example) -> None:
    component = {v: k for k, v in openapi.COMPONENTS.items()}[example.schema]
    via_openapi = Draft202012Validator({**COMMITTED, "$ref": f"#/components/schemas/{component}"})
    assert via_openapi.is_valid(example.instance) == example.valid
