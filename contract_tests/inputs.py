"""Every input field at its boundaries and in the forms real clients send: value classes, and the probes made of them.

Each field of ``schemas/submit-request.json`` gets its value classes from its schema node: absent, null,
empty, zero, negative, smallest and largest, the wrong type, and for lists empty, one, several and many.
Beside them, the forms real clients send most (portrait, square and landscape ratios, common durations,
sizes and resolutions, references as storage services and CDNs hand them out, base64 in each accepted
form, non-Latin and long prompts), most common first. The schema decides which values are valid.

Two probe families use them:

- ``free_probes``: every class of every field, sent beside a missing required field. A conforming server
  refuses each (the spec requires the field), so they cost nothing, and a crash that comes before
  validation (a 500 on an empty ``images`` list) shows as a 5xx.
- ``paid_bodies``: valid bodies chosen pairwise over the fields' valid classes, most common values first,
  so that the few tasks the budget pays for carry the values clients send most.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from dataclasses import dataclass
from typing import Any

from mockserver import contract

from . import strategies

MANY = 12  # items in a list of the "many" class
LONG_TEXT = 10_000  # characters in a string of the "largest" class, where the schema sets no maximum

_PNG = strategies.from_schema_examples(strategies.properties()["images"]["items"])[2]  # raw base64 of a 1x1 PNG
_JPEG = (
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5"
    "PTgyPC4zNDL/wAALCAABAAEBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAACf/EABQQAQAAAAAAAAAAAAAAAAAAAAD/2gAIAQEAAD8AKp//2Q=="
)
# Where clients take their inputs from: object stores' signed links and CDNs, query strings and escapes included.
_STORAGE_IMAGE = (
    "https://contract-kit-inputs.s3.us-east-1.amazonaws.com/uploads/2026/cat%20on%20board.png"
    "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20260101%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20260101T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=0f1e2d3c4b5a"
)
_CDN_IMAGE = "https://cdn.example.com/i/u/42/cat.jpg?width=1024&format=jpeg&v=1718000000"
_BUCKET_IMAGE = "https://storage.googleapis.com/contract-kit-inputs/cat.webp"
_STORAGE_VIDEO = (
    "https://contract-kit-inputs.blob.core.windows.net/clips/surf.mp4"
    "?sv=2024-11-04&se=2030-01-01T00%3A00%3A00Z&sr=b&sp=r&sig=bm90LWEtcmVhbC1zaWduYXR1cmU%3D"
)
_CDN_VIDEO = "https://d1234abcd.cloudfront.net/clips/surf.mp4?Expires=1893456000&Signature=abc~def&Key-Pair-Id=K2EX"

# (class, value), most common first: the first ones go into the paid bodies.
REAL_FORMS: dict[str, list[tuple[str, Any]]] = {
    "prompt": [
        ("non-Latin, with emoji", "一只猫在日落时冲浪，电影感镜头 🐱🌅"),
        ("Latin", "A cat surfing at sunset, cinematic, 35mm film"),
        ("long", ("A slow dolly shot along a beach at golden hour; a cat rides a longboard. " * 30).strip()),
        ("right-to-left", "قطة تركب الأمواج عند الغروب، لقطة سينمائية"),
        ("quotes and line breaks", 'A sign that reads "OPEN",\nthen the camera pans\tright'),
    ],
    "duration": [("common: 5 s", 5), ("common: 10 s", 10), ("common: 8 s", 8), ("fraction", 2.5)],
    "aspect_ratio": [("portrait", "9:16"), ("landscape", "16:9"), ("square", "1:1"), ("photo", "4:3")],
    "size": [("square", "1024x1024"), ("portrait", "720x1280"), ("landscape", "1280x720")],
    "resolution": [("common: 720p", "720p"), ("common: 1080p", "1080p"), ("common: 480p", "480p")],
    "images": [
        ("storage URL", [_STORAGE_IMAGE]),
        ("data URI", [f"data:image/png;base64,{_PNG}"]),
        ("CDN URL", [_CDN_IMAGE]),
        ("raw base64", [_JPEG]),
        ("several, mixed forms", [_CDN_IMAGE, _BUCKET_IMAGE, f"data:image/jpeg;base64,{_JPEG}"]),
    ],
    "videos": [("storage URL", [_STORAGE_VIDEO]), ("CDN URL", [_CDN_VIDEO])],
    "watermark": [("false", False), ("true", True)],
}


@dataclass(frozen=True)
class Value:
    """One value of one field, named by its class; ``valid`` is the schema's word, in an otherwise valid body."""

    field: str
    kind: str
    value: Any
    valid: bool


def _node(name: str) -> dict[str, Any]:
    node, _ = strategies._resolve(strategies.properties()[name], strategies._resolver())
    return node


def _valid(name: str, value: Any, model: str) -> bool:
    return contract.is_valid(strategies.SCHEMA, {**strategies.plain_request(model), name: value})


def boundaries(name: str) -> list[tuple[str, Any]]:
    """The field's boundary classes, read from its schema node's type and bounds."""
    node = _node(name)
    kind = node.get("type")
    found: list[tuple[str, Any]] = [
        ("null", None),
        ("wrong type", strategies._wrong_values(strategies.properties()[name])[0]),
    ]
    if kind == "string":
        least = node.get("minLength", 0)
        found += [("empty", ""), ("white space", " \t"), ("smallest", "a" * max(least, 1))]
        found += [("largest", "a" * node.get("maxLength", LONG_TEXT))]
    elif kind == "number":
        low = node.get("exclusiveMinimum", node.get("minimum"))
        found += [("zero", 0), ("negative", -1), ("numeric string", "5")]
        if low is not None:
            found.append(("smallest", low + 0.001 if "exclusiveMinimum" in node else low))
        found.append(("largest", node.get("maximum", 1e9)))
    elif kind == "boolean":
        found += [("as a string", "true"), ("as a number", 1)]
    elif kind == "array":
        item = REAL_FORMS.get(name, [("", ["x"])])[0][1][0]
        found += [("empty", []), ("one", [item]), ("several", [item] * 3), ("many", [item] * MANY)]
        found += [("an empty item", [""]), ("a non-string item", [123])]
    return found


@functools.cache
def values(model: str) -> tuple[Value, ...]:
    """Every class of every field, in the schema's order, boundaries first, then the real forms; each judged by
    the schema (kept, as each is a validation, and the same for every run)."""
    found = []
    for name in strategies.properties():
        for kind, value in [*boundaries(name), *REAL_FORMS.get(name, [])]:
            found.append(Value(name, kind, value, _valid(name, value, model)))
    return tuple(found)


def free_probes(model: str) -> list[tuple[Value, str, dict[str, Any]]]:
    """``(value, why, body)``: each class sent beside a missing required field, so that only a crash costs."""
    plain = strategies.plain_request(model)
    probes = []
    for value in values(model):
        missing = next(name for name in strategies.required() if name != value.field)
        body = {k: v for k, v in plain.items() if k != missing} | {value.field: value.value}
        probes.append((value, f"no {missing}, and {value.field} {value.kind}", body))
    return probes


def _factors(model: str) -> dict[str, list[Value]]:
    """The valid real forms per factor; ``images`` and ``videos`` are one factor, since a server may refuse both."""
    forms = [v for v in values(model) if v.valid and v.kind in {k for k, _ in REAL_FORMS.get(v.field, [])}]
    factors: dict[str, list[Value]] = {}
    for v in forms:
        factors.setdefault("media" if v.field in ("images", "videos") else v.field, []).append(v)
    return factors


@dataclass
class Pairs:
    """The pairs of values (of two factors) the paid bodies have carried so far, across scopes."""

    seen: set[frozenset[tuple[str, str]]] = dataclasses.field(default_factory=set)
    singles: set[tuple[str, str]] = dataclasses.field(default_factory=set)

    def add(self, chosen: list[Value]) -> None:
        keys = [(v.field, v.kind) for v in chosen]
        self.singles |= set(keys)
        self.seen |= {frozenset(p) for p in itertools.combinations(keys, 2)}


def _gain(value: Value, chosen: list[Value], pairs: Pairs) -> tuple[bool, int]:
    """Whether ``value`` is new to the run's paid bodies, and how many new pairs it makes with ``chosen``."""
    key = (value.field, value.kind)
    return key not in pairs.singles, sum(frozenset({key, (c.field, c.kind)}) not in pairs.seen for c in chosen)


def paid_bodies(model: str, count: int, pairs: Pairs) -> list[tuple[list[Value], dict[str, Any]]]:
    """``count`` valid bodies chosen greedily to carry the most new values, then the most new pairs.

    Each factor takes, in turn, the value that adds the most; ties go to the more common value (the
    earlier in ``REAL_FORMS``), so the first body is the run's most common real request.
    """
    factors = _factors(model)
    chosen_bodies = []
    for _ in range(count):
        chosen: list[Value] = []
        for options in factors.values():
            ranked = [(_gain(v, chosen, pairs), -rank, v) for rank, v in enumerate(options)]
            chosen.append(max(ranked, key=lambda r: r[:2])[2])
        pairs.add(chosen)
        body = {**strategies.plain_request(model), **{v.field: v.value for v in chosen}, "x_client": "contract-kit"}
        if not contract.is_valid(strategies.SCHEMA, body):
            raise AssertionError(f"a pairwise body breaks the schema: {body!r}")
        chosen_bodies.append((chosen, body))
    return chosen_bodies


def classify(body: dict[str, Any], model: str) -> list[Value]:
    """The class of each field's value in ``body``: a named class where one matches, else ``absent`` or ``other``."""
    known = values(model)
    found = []
    for name in strategies.properties():
        if name not in body:
            found.append(Value(name, "absent", None, name not in strategies.required()))
            continue
        match = next((v for v in reversed(known) if v.field == name and v.value == body[name]), None)
        examples = strategies.from_schema_examples(strategies.properties()[name])
        kind = match.kind if match else "schema example" if body[name] in examples else "other"
        kind = "the run's model" if name == "model" and body[name] == model else kind
        found.append(Value(name, kind, body[name], True))
    return found


def answer_class(status: int | None) -> str:
    """How the coverage table shows an answer: 2xx, 4xx, 5xx, another class, or none at all."""
    return "no answer" if status is None else f"{status // 100}xx"


@dataclass
class Coverage:
    """One row of the report's coverage table: a field's class, and the answers it got, free and paid."""

    field: str
    kind: str
    valid: bool
    free: dict[str, int] = dataclasses.field(default_factory=dict)
    paid: dict[str, int] = dataclasses.field(default_factory=dict)


def coverage(free: list[tuple[Value, int | None]], paid: list[tuple[tuple[Value, ...], int | None]]) -> list[Coverage]:
    """The table's rows, in field order: every class sent free, and every class a paid body carried."""
    rows: dict[tuple[str, str], Coverage] = {}

    def row(value: Value) -> Coverage:
        return rows.setdefault((value.field, value.kind), Coverage(value.field, value.kind, value.valid))

    for value, status in free:
        seen = row(value).free
        seen[answer_class(status)] = seen.get(answer_class(status), 0) + 1
    for values, status in paid:
        for value in values:
            seen = row(value).paid
            seen[answer_class(status)] = seen.get(answer_class(status), 0) + 1
    order = {name: i for i, name in enumerate(strategies.properties())}
    return sorted(rows.values(), key=lambda r: order.get(r.field, len(order)))
