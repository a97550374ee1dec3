"""Build the OpenAPI 3.1 document from ``schemas/``, so standard tools read the same contract.

``python -m mockserver.contract.openapi`` rewrites ``schemas/openapi.json``; ``--check`` only reports
whether the committed document is stale. Nothing here states a fact of the contract: operations
take their bodies from the schemas and their error answers from ``error.json``'s ``x-errors``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mockserver import contract

COMPONENTS = {
    "SubmitRequest": "submit-request",
    "SubmitResponse": "submit-response",
    "Task": "task",
    "Error": "error",
    "NewApiVideoRequest": "newapi-video-request",
    "NewApiTask": "newapi-task",
    "NewApiError": "newapi-error",
    "OpenAIVideoRequest": "openai-video-request",
    "OpenAIVideo": "openai-video",
    "OpenAIError": "openai-error",
}
# The dialects the mock serves beside /v2 (mockserver/http/dialects): path, method, request, answer, refusal.
DIALECTS = [
    ("/v1/video/generations", "post", "NewApiVideoRequest", "OpenAIVideo", "NewApiError"),
    ("/v1/video/generations/{task_id}", "get", None, "NewApiTask", "NewApiError"),
    ("/v1/videos", "post", "OpenAIVideoRequest", "OpenAIVideo", "OpenAIError"),
    ("/v1/videos/{video_id}", "get", None, "OpenAIVideo", "OpenAIError"),
    ("/v1/videos/{video_id}/content", "get", None, None, "OpenAIError"),
]
_LOCAL = "#/components/schemas/"


def _rewrite_refs(node: Any) -> Any:
    """Point every ``$ref`` at ``#/components/schemas/...``: tools resolve those without ``$id`` support.

    The schemas only ever refer to a ``$defs`` entry of common.json, whose name becomes the component's.
    """
    if isinstance(node, list):
        return [_rewrite_refs(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in ("$id", "$schema", "$defs"):
            continue
        if key == "$ref":
            value = _LOCAL + value.rsplit("/", 1)[-1]
        out[key] = _rewrite_refs(value)
    return out


def _components() -> dict[str, Any]:
    found = {name: _rewrite_refs(d) for name, d in contract.schema("common")["$defs"].items()}
    for name, schema_name in COMPONENTS.items():
        found[name] = _rewrite_refs(contract.schema(schema_name))
    return found


def _error_responses() -> dict[str, Any]:
    responses = {}
    for status, row in sorted(contract.error_table().items()):
        response: dict[str, Any] = {
            "description": f"{row['type']} ({', '.join(row['codes'])}): {row['when']}.",
            "content": {"application/json": {"schema": {"$ref": _LOCAL + "Error"}}},
        }
        if row.get("headers"):
            response["headers"] = {
                h: {"schema": {"type": "string"}, "description": "Seconds, or an HTTP date."} for h in row["headers"]
            }
        responses[str(status)] = response
    return responses


def _parameter(name: str, component: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"$ref": _LOCAL + component},
    }


def _json(component: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": _LOCAL + component}}}


def _dialect_paths() -> dict[str, Any]:
    """The dialect routes, each with its own request, answer and error shapes from ``schemas/``."""
    paths: dict[str, Any] = {}
    for path, method, request, answer, refusal in DIALECTS:
        schema = contract.schema(COMPONENTS[answer or request or refusal])
        operation: dict[str, Any] = {
            "operationId": "dialect" + "".join(part.strip("{}").title().replace("_", "") for part in path.split("/")),
            "summary": f"{method.upper()} {path}, a dialect of the mock beside /v2",
            "description": schema["description"] if answer else "The video file of a completed task (video/mp4).",
            "tags": ["dialects"],
        }
        names = [part.strip("{}") for part in path.split("/") if part.startswith("{")]
        if names:
            operation["parameters"] = [
                _parameter(name, "taskId", "The id a submit on any route answered.") for name in names
            ]
        if request:
            operation["requestBody"] = {"required": True, "content": _json(request)}
        ok = (
            {"content": _json(answer)}
            if answer
            else {"content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}}}}
        )
        refused = contract.schema(COMPONENTS[refusal])["title"]
        operation["responses"] = {
            "200": {"description": "Answered as the dialect answers.", **ok},
            **{
                status: {
                    **response,
                    "description": f"{response['description']} In the {refused} shape.",
                    "content": _json(refusal),
                }
                for status, response in _error_responses().items()
            },
        }
        paths.setdefault(path, {})[method] = operation
    return paths


def build() -> dict[str, Any]:
    """The whole document, deterministic so a stale copy is detectable by comparison."""
    request = contract.schema("submit-request")
    task = contract.schema("task")
    scope = _parameter("scope", "scope", contract.schema("common")["$defs"]["scope"]["description"])
    errors = _error_responses()
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "Unified generations API",
            "version": "v2",
            "description": "Asynchronous image, video and audio generation behind one request format. "
            "Generated from schemas/ by mockserver.contract.openapi; do not edit by hand.",
        },
        "security": [{"bearerAuth": []}],
        "paths": {
            "/v2/{scope}/generations": {
                "post": {
                    "operationId": "submitGeneration",
                    "summary": request["title"],
                    "description": request["description"],
                    "parameters": [scope],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": _LOCAL + "SubmitRequest"}}},
                    },
                    "responses": {
                        "200": {
                            "description": contract.schema("submit-response")["description"],
                            "content": {"application/json": {"schema": {"$ref": _LOCAL + "SubmitResponse"}}},
                        },
                        **errors,
                    },
                }
            },
            "/v2/{scope}/generations/{task_id}": {
                "get": {
                    "operationId": "getGeneration",
                    "summary": task["title"],
                    "description": task["description"],
                    "parameters": [scope, _parameter("task_id", "taskId", "The id a submit answered.")],
                    "responses": {
                        "200": {
                            "description": "The task as it stands now.",
                            "content": {"application/json": {"schema": {"$ref": _LOCAL + "Task"}}},
                        },
                        **errors,
                    },
                }
            },
            **_dialect_paths(),
        },
        "components": {
            "schemas": _components(),
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <API-Key>"}
            },
        },
    }


def render() -> str:
    return json.dumps(build(), ensure_ascii=False, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if schemas/openapi.json is stale")
    args = parser.parse_args(argv)
    target = contract.schemas_dir() / "openapi.json"
    fresh = render()
    if args.check:
        stale = not target.exists() or target.read_text(encoding="utf-8") != fresh
        print(f"{target} is {'stale: run python -m mockserver.contract.openapi' if stale else 'up to date'}")
        return int(stale)
    target.write_text(fresh, encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
