"""The README's tables say what the embedded defaults, schemas/ and the OpenAPI document say."""

from __future__ import annotations

import json
import re
from pathlib import Path

from mockserver import contract, create_app
from mockserver.contract import openapi
from mockserver.engine.config import Config
from mockserver.engine.profiles import MODELS, SCOPE_DEFAULTS

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")


def table(heading: str) -> list[list[str]]:
    """The rows of the first table under ``heading``, each a list of its cells."""
    section = README[README.index(heading) :]
    rows = []
    for line in (line.strip() for line in section.splitlines()[1:]):
        if rows and not line.startswith("|"):
            break
        if line.startswith("|") and not line.startswith("|---"):
            rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows[1:]


def names(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def route(method: str, path: str) -> tuple[str, str]:
    """A route with its parameters unnamed: the README writes ``{id}`` where the router names ``{video_id}``."""
    return method.upper(), re.sub(r"\{[^}]*\}", "{}", path)


def test_the_profiles_table_gives_each_embedded_lifecycle() -> None:
    rows = table("### Profiles: how long")
    shown = {names(row[0])[0] if names(row[0]) else "default": names(row[-1])[0] for row in rows}
    assert {name: shown[name] for name in MODELS} == {name: p.lifecycle for name, p in MODELS.items()}
    assert {shown["default"]} == {p.lifecycle for p in SCOPE_DEFAULTS.values()}


def test_the_lifecycles_table_is_lifecycle_json() -> None:
    rows = table("### Lifecycles: which states a task shows")
    in_readme = {names(row[0])[0]: tuple(names(cell)[0] for cell in row[1:4]) for row in rows}
    in_schema = {n: (w["at_submit"], w["waiting"], w["running"]) for n, w in contract.lifecycle()["lifecycles"].items()}
    assert in_readme == in_schema
    assert "(default)" in rows[0][0] and names(rows[0][0])[0] == next(iter(in_schema))


def test_the_routes_table_lists_what_the_mock_and_the_openapi_document_serve() -> None:
    rows = table("  | route | as | answers | refuses with |")
    in_readme = {route(*name.split()) for row in rows for name in names(row[0]) if " /v1/" in name}
    in_openapi = {route(method, path) for path, method, *_ in openapi.DIALECTS}
    served = {route(m, r.path) for r in create_app(Config()).routes for m in getattr(r, "methods", ()) or ()}
    assert in_readme == in_openapi
    assert in_openapi <= served
    document = json.loads((contract.schemas_dir() / "openapi.json").read_text(encoding="utf-8"))
    assert {route(m, p) for p, ops in document["paths"].items() for m in ops if p.startswith("/v1/")} == in_openapi
