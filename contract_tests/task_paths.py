"""Task ids in the poll path that name no task, as Schemathesis fuzzes path parameters.

Each is a path segment as sent, already percent-encoded where a URL needs it (httpx keeps escapes as
given and encodes the rest). A conforming server answers every one with some 4xx: 400, 404, 405, or a
proxy's 414 for the long one. Never a 5xx, and never a task, least of all the known one a prefix
match, a ``parseInt`` or a C string cut at NUL would find.
"""

from __future__ import annotations

LONG = 10 * 1024


def odd_ids(known: str | None) -> list[tuple[str, str]]:
    """``(reason, segment)`` pairs; ``known`` is a task id of the run's, to be sent with something after it."""
    cases = [
        ("10 KB long", "a" * LONG),
        ("empty", ""),
        ("of CJK and emoji", "任务🐱"),
        ("holding spaces", "a task id"),
        ("holding a plus sign", "a+b"),
        ("holding a percent-encoded slash", "a%2Fb"),
        ("that is a percent-encoded slash", "%2F"),
        ("of three dots", "..."),
        ("holding a dot", "a.b"),
        ("that is a percent-encoded '..'", "%2E%2E"),
        ("holding NUL", "a%00b"),
        ("holding a line break", "a%0D%0Ab"),
        ("of control characters", "%01%1F%7F"),
        ("holding a stray percent sign", "100%"),
    ]
    if known:
        cases += [
            ("made of a known task's id and an 'x'", f"{known}x"),
            ("made of a known task's id and NUL", f"{known}%00"),
            ("made of a known task's id and a percent-encoded slash", f"{known}%2Fx"),
        ]
    return [(f"a task id {reason}", segment) for reason, segment in cases]
