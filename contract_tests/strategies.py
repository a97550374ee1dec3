"""Hypothesis strategies for submit bodies, built from ``schemas/submit-request.json``.

Small strategies compose into larger ones: a value for one schema node, a field, a whole valid
body, then each way of breaking one. Field names, required fields, types, patterns and examples
all come from the schema, and every body drawn is checked against it, so a change of contract
changes what is generated.

Valid values come from the schema's ``examples`` where it gives some: against a real gateway each
accepted body is a paid generation, and realistic inputs make that generation worth watching.
"""

from __future__ import annotations

import json
import string
from typing import Any

from hypothesis import strategies as st

from mockserver import contract
from mockserver.contract import golden

Resolver = Any  # referencing's resolver type, which the library does not export

SCHEMA = "submit-request"

# Prompts in several scripts: a gateway must pass any text through, not only ASCII.
_SCRIPTS = {
    "latin": string.ascii_letters + " ,.'-!?",
    "cjk": "猫在日落时冲浪电影感的镜头一只可爱的小狗在草地上奔跑",
    "cyrillic": "Кот катается на доске при закате ",
    "arabic": "قطة تركب الأمواج عند الغروب ",
    "emoji": "🐱🌅🏄‍♂️🎬✨ ",
}


def _resolver() -> Resolver:
    return contract.registry().resolver(base_uri=contract.schema(SCHEMA)["$id"])


def _resolve(node: dict[str, Any], resolver: Resolver) -> tuple[dict[str, Any], Resolver]:
    while "$ref" in node:
        found = resolver.lookup(node["$ref"])
        node, resolver = found.contents, found.resolver
    return node, resolver


def from_schema(node: dict[str, Any], resolver: Resolver | None = None) -> st.SearchStrategy[Any]:
    """Values of one schema node: its examples where it has some, else values its constraints allow.

    Examples win because valid bodies are paid probes: a real gateway should get inputs it can
    act on, not a URL with a mixed-case scheme and a host of stray code points.
    """
    resolver = resolver or _resolver()
    examples = from_schema_examples(node, resolver)
    node, resolver = _resolve(node, resolver)
    if examples:
        return st.sampled_from(examples)
    if "anyOf" in node:
        return st.one_of([from_schema(b, resolver) for b in node["anyOf"]])
    return _typed(node, resolver)


def _typed(node: dict[str, Any], resolver: Resolver) -> st.SearchStrategy[Any]:
    kind = node.get("type")
    if kind == "string":
        if "pattern" in node:
            text = st.from_regex(node["pattern"], fullmatch=node["pattern"].startswith("^"))
        else:
            text = st.text(min_size=node.get("minLength", 0), max_size=40)
        return text.filter(lambda s: len(s) >= node.get("minLength", 0))
    if kind == "number":
        low = node.get("exclusiveMinimum", node.get("minimum", 0))
        return st.integers(int(low) + 1, 60) | st.floats(low, 60, exclude_min="exclusiveMinimum" in node)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(from_schema(node.get("items", {}), resolver), min_size=1, max_size=3)
    raise NotImplementedError(f"no strategy for schema node {node!r}")


def properties() -> dict[str, dict[str, Any]]:
    return contract.schema(SCHEMA)["properties"]


def required() -> list[str]:
    return contract.schema(SCHEMA)["required"]


@st.composite
def prompts(draw: st.DrawFn) -> str:
    """Prompts of many lengths and scripts, always with some visible text."""
    script = draw(st.sampled_from(sorted(_SCRIPTS)))
    size = draw(st.sampled_from([1, 8, 40, 200, 1000]))
    # Long prompts repeat a short drawn phrase: cheap to generate, same length to the server.
    phrase = draw(st.text(alphabet=_SCRIPTS[script], min_size=1, max_size=min(size, 40)))
    text = (phrase * (size // len(phrase) + 1))[:size]
    return text if text.strip() else "a" + text[1:]


def extra_fields() -> st.SearchStrategy[dict[str, Any]]:
    """Fields the schema does not name: the spec's ``......`` says a server must let them through."""
    names = st.from_regex(r"\Ax_[a-z]{1,10}\Z").filter(lambda n: n not in properties())
    values = (
        st.none() | st.booleans() | st.integers(-10, 10) | st.text(max_size=10) | st.lists(st.integers(), max_size=2)
    )
    return st.dictionaries(names, values, min_size=1, max_size=2)


def plain_request(model: str) -> dict[str, Any]:
    """The required fields only, with the schema's example prompt: what every conforming server accepts."""
    return {**{name: from_schema_examples(properties()[name])[0] for name in required()}, "model": model}


def spec_template_request(model: str) -> dict[str, Any]:
    """The spec's request template with its own example values; its ``""`` placeholders get the schema's examples.

    Only one of ``images`` and ``videos`` is kept (images, inline as a data URI, so that a server that
    fetches its inputs can act on it), since the spec lets a server refuse the pair.
    """
    text = (contract.fixtures_dir() / "spec" / "endpoints-submit-request.jsonc").read_text(encoding="utf-8")
    body = {k: v for k, v in golden.parse_spec_template(text).items() if k != "videos" and v != ""}
    body["images"] = [e for e in from_schema_examples(properties()["images"]["items"]) if e.startswith("data:")][:1]
    body = {**plain_request(model), **body, "model": model}
    if not contract.is_valid(SCHEMA, body):
        raise AssertionError(f"the spec's template, filled in, breaks the schema: {body!r}")
    return body


def from_schema_examples(node: dict[str, Any], resolver: Resolver | None = None) -> list[Any]:
    """The first examples found on ``node`` or along its ``$ref`` chain."""
    resolver = resolver or _resolver()
    while not node.get("examples") and "$ref" in node:
        found = resolver.lookup(node["$ref"])
        node, resolver = found.contents, found.resolver
    return list(node.get("examples", []))


@st.composite
def valid_requests(draw: st.DrawFn, model: str) -> dict[str, Any]:
    """A body the schema accepts: the required fields, any optional ones, maybe unknown extras.

    ``images`` and ``videos`` never come together: the spec lets a server refuse that pair.
    """
    body: dict[str, Any] = {"prompt": draw(prompts()), "model": model}
    chosen = draw(st.lists(st.sampled_from(_optional()), unique=True))
    if "images" in chosen and "videos" in chosen:
        chosen.remove(draw(st.sampled_from(["images", "videos"])))
    for name in chosen:
        body[name] = draw(from_schema(properties()[name]))
    if draw(st.booleans()):
        body.update(draw(extra_fields()))
    if not contract.is_valid(SCHEMA, body):
        raise AssertionError(f"the strategy drew a body its own schema refuses: {body!r}")
    return body


# Invalid bodies. Each is a (reason, body) pair; a body is bytes when it must not be JSON at all.


def _wrong_values(node: dict[str, Any]) -> list[Any]:
    """Values of a JSON type the node does not allow, and that no lenient parser coerces into it."""
    node, _ = _resolve(node, _resolver())
    kind = node.get("type")
    if kind == "string":
        return [123, 4.5, True, ["text"], {"text": "x"}]
    if kind == "number":
        return ["five seconds", ["5"], {"seconds": 5}]
    if kind == "boolean":
        return ["maybe", 7, ["true"], {"on": True}]
    if kind == "array":
        return ["https://example.com/a.png", 3, {"0": "x"}, True]
    raise NotImplementedError(f"no wrong type for {node!r}")


def _inline_images() -> list[str]:
    """The schema's example images that are not URLs: what ``videos`` (spec: only url) must refuse."""
    examples = _resolve(properties()["images"]["items"], _resolver())[0]["examples"]
    return [e for e in examples if not e.lower().startswith(("http://", "https://"))]


def breakages(body: dict[str, Any]) -> list[tuple[str, Any]]:
    """Every single way this kit knows to break a valid ``body``, each checked against the schema."""
    cases: list[tuple[str, Any]] = []
    for name in required():
        cases.append((f"no {name}", {k: v for k, v in body.items() if k != name}))
        cases.append((f"empty {name}", {**body, name: ""}))
        cases.append((f"{name} null", {**body, name: None}))  # present, yet no value: still missing
    for name, node in properties().items():
        cases += [(f"{name} of the wrong type", {**body, name: value}) for value in _wrong_values(node)]
    for name, node in properties().items():
        if _resolve(node, _resolver())[0].get("type") == "array":
            cases += [(f"{name} holding a non-string", {**body, name: [item]}) for item in (123, None, {"url": "x"})]
    without_images = {k: v for k, v in body.items() if k != "images"}
    cases.append(("videos holding a string that is not a URL", {**without_images, "videos": ["clip.mp4"]}))
    reason = "videos given as base64, where the spec says url only"
    cases += [(reason, {**without_images, "videos": [ref]}) for ref in _inline_images()]
    cases += _odd_values(body)
    cases += _no_prompt_in_each_mode(body)
    cases += [("a body that is not a JSON object", value) for value in ([body], "prompt", 42, None, True)]
    cases.append(("a body of arrays nested 100,000 deep", b"[" * 100_000 + b"]" * 100_000))
    text = json.dumps(body)
    malformed = [text[:-1], text.replace('"', "'"), "", "{prompt: x}"]
    cases += [("malformed JSON", t.encode()) for t in malformed] + [("malformed JSON", text[:-1].encode() + b"\xff")]
    for reason, broken in cases:
        if not isinstance(broken, bytes) and contract.is_valid(SCHEMA, broken):
            raise AssertionError(f"meant to break the schema by {reason}, but it accepts {broken!r}")
    return cases


def _no_prompt_in_each_mode(body: dict[str, Any]) -> list[tuple[str, Any]]:
    """The spec requires a prompt (必须) whatever the mode: image- or video-to-video no less than text."""
    bare = {k: v for k, v in body.items() if k not in ("prompt", "images", "videos")}
    cases: list[tuple[str, Any]] = []
    for name in ("images", "videos"):
        ref = from_schema_examples(properties()[name]["items"])[0]
        cases += [(f"no prompt, with {name}", {**bare, name: [ref]})]
        cases += [(f"an empty prompt, with {name}", {**bare, "prompt": "", name: [ref]})]
    return cases


def _odd_values(body: dict[str, Any]) -> list[tuple[str, Any]]:
    """Values that trip careless parsers, each in a body the spec forbids anyway (no prompt, or no model).

    That such a value alone must be refused is only our reading (the spec shows "16:9" and says nothing
    of sizes or encodings), and a lenient server would make it a paid task; with a required field gone
    it costs nothing on a conforming server, yet still reaches a parser that reads every field first.
    """
    no_prompt = {k: v for k, v in body.items() if k != "prompt"}
    no_model = {k: v for k, v in body.items() if k != "model"}
    cases: list[tuple[str, Any]] = [
        (f"no prompt, and aspect_ratio {ratio!r}", {**no_prompt, "aspect_ratio": ratio}) for ratio in ("16x9", "16:0")
    ]
    cases.append(("no model, and a prompt of 150 KB", {**no_model, "prompt": "a" * 150_000}))
    surrogate = json.dumps({**no_model, "prompt": "a lone surrogate: \ud800"})  # escaped: JSON allows, UTF-8 cannot
    cases.append(("no model, and a prompt holding a lone surrogate", surrogate.encode()))
    cases += [(f"no prompt, and {name} null", {**no_prompt, name: None}) for name in _optional()]
    return cases


def _optional() -> list[str]:
    return [name for name in properties() if name not in required()]


def null_optionals(model: str) -> dict[str, Any]:
    """The plain body with every optional field ``null``: the spec does not say, our schema refuses it.

    Many servers read null as absent (pydantic's ``Optional``, Go's pointers), so accepting it is only
    warned about; one body for all the fields, so that such a server pays for one task, not one a field.
    """
    body = {**plain_request(model), **dict.fromkeys(_optional())}
    if contract.is_valid(SCHEMA, body):
        raise AssertionError(f"the schema accepts null optional fields now; drop this probe: {body!r}")
    return body


def invalid_examples(model: str) -> list[tuple[str, Any]]:
    """Each breakage of the plain body: tried on every run, so no clause is left to chance."""
    return breakages(plain_request(model))


@st.composite
def invalid_requests(draw: st.DrawFn, model: str) -> tuple[str, Any]:
    """A generated valid body broken in one way the spec forbids, named for the report."""
    return draw(st.sampled_from(breakages(draw(valid_requests(model)))))
