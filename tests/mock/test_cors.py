"""CORS: off by default, as a gateway called from servers; on for configured origins, for browser apps."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from mockserver import Config, contract, create_app
from mockserver.cli import main
from mockserver.engine.config import ConfigError, load_config

APP_ORIGIN = "http://localhost:3000"
KEY = {"Authorization": "Bearer sk-mock-dev"}
BODY = {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}


def preflight(client: TestClient, origin: str, headers: str = "authorization,content-type") -> object:
    return client.options(
        "/v2/videos/generations",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": headers},
    )


def test_without_origins_no_cors_headers_and_a_preflight_is_a_json_405() -> None:
    with TestClient(create_app(Config())) as client:
        answer = client.post("/v2/videos/generations", json=BODY, headers={**KEY, "Origin": APP_ORIGIN})
        assert answer.status_code == 200
        assert not any(name.startswith("access-control-") for name in answer.headers)
        refused = preflight(client, APP_ORIGIN)
        assert refused.status_code == 405 and refused.json()["error"]["code"] == "method_not_allowed"


def test_a_configured_origin_gets_its_preflight_and_can_read_answers_and_retry_after() -> None:
    with TestClient(create_app(Config(cors_origins=(APP_ORIGIN,)))) as client:
        allowed = preflight(client, APP_ORIGIN, "authorization,content-type,x-mock-scenario")
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == APP_ORIGIN
        assert "POST" in allowed.headers["access-control-allow-methods"]
        submitted = client.post("/v2/videos/generations", json=BODY, headers={**KEY, "Origin": APP_ORIGIN})
        assert submitted.headers["access-control-allow-origin"] == APP_ORIGIN
        assert "Retry-After" in submitted.headers["access-control-expose-headers"]
        task_id = submitted.json()["task_id"]
        polled = client.get(f"/v2/videos/generations/{task_id}", headers={**KEY, "Origin": APP_ORIGIN})
        assert polled.status_code == 200 and polled.headers["access-control-allow-origin"] == APP_ORIGIN


@pytest.mark.parametrize(("origin", "headers"), [("http://evil.example", "authorization"), (APP_ORIGIN, "x-secret")])
def test_a_refused_preflight_is_a_json_error_from_the_contracts_table(origin: str, headers: str) -> None:
    with TestClient(create_app(Config(cors_origins=(APP_ORIGIN,)))) as client:
        refused = preflight(client, origin, headers)
    assert refused.status_code == 400
    assert contract.is_valid("error", refused.json())
    assert refused.json()["error"]["code"] == "cors_refused"
    message = refused.json()["error"]["message"]
    assert "Disallowed CORS" in message and f"sent: {origin}" in message and APP_ORIGIN in message


def test_any_origin_with_a_star_and_the_config_file_checked_by_its_schema(tmp_path: object) -> None:
    with TestClient(create_app(Config(cors_origins=("*",)))) as client:
        assert preflight(client, "http://anything.example").headers["access-control-allow-origin"] == "*"
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"  # type: ignore[operator]
    good.write_text('cors_origins = ["http://localhost:5173"]\n')
    bad.write_text('cors_origins = "*"\n')
    assert load_config(good).cors_origins == ("http://localhost:5173",)
    with pytest.raises(ConfigError, match="cors_origins"):
        load_config(bad)


def test_the_cli_takes_origins_as_repeated_options(monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[object] = []
    monkeypatch.setattr("mockserver.cli.serve", lambda server, app, options, listening: served.append(app))
    main(["--port", "0", "--cors-origin", APP_ORIGIN, "--cors-origin", "http://localhost:5173"])
    assert served[0].state.service.config.cors_origins == (APP_ORIGIN, "http://localhost:5173")  # type: ignore[attr-defined]


def test_a_refused_origin_is_quoted_cut_short() -> None:
    """The README promises a refusal quotes about 60 characters of the value at fault; an 8 KB Origin came back whole."""
    with TestClient(create_app(Config(cors_origins=(APP_ORIGIN,)))) as client:
        refused = preflight(client, "http://" + "x" * 8000)
    assert refused.status_code == 400 and len(refused.content) < 1024, len(refused.content)
