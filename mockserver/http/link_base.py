"""The base of output links, worked out once per distinct host rather than on every poll.

Starlette's ``request.base_url`` parses and rebuilds a URL on each call, which was the largest cost
of a poll beyond the framework's own. It depends only on the scheme, the Host header, the server
address and the root path, so it is kept per combination of those. The Host header comes from the
client, so the memo is bounded: past its size, links are worked out afresh each time.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import Scope

_MEMO_SIZE = 256
_memo: dict[tuple[object, ...], str] = {}


def media_base(scope: Scope) -> str:
    """``{base_url}_media``, as output links start."""
    host = None
    for name, value in scope["headers"]:  # a loop, not next() over a generator: a fifth of the cost on a poll
        if name == b"host":
            host = value
            break
    server = scope.get("server")
    key = (scope.get("scheme"), host, server and tuple(server), scope.get("app_root_path", scope.get("root_path", "")))
    found = _memo.get(key)
    if found is None:
        found = f"{Request(scope).base_url}_media"
        if len(_memo) < _MEMO_SIZE:
            _memo[key] = found
    return found
