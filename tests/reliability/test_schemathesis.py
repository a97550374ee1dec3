"""Schemathesis against the mock, from the published OpenAPI document, with its default checks."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from mockserver import Config, contract, create_app

pytestmark = pytest.mark.slow

schema = schemathesis.openapi.from_path(str(contract.schemas_dir() / "openapi.json"))
# in-process over ASGI; a high time scale so that generated polls meet every state
schema.app = create_app(Config(time_scale=1000))
AUTH = {"Authorization": "Bearer sk-mock-dev"}


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_conforms(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=AUTH)
