"""The second yardstick: a raw ASGI app that answers the mock's own JSON with orjson and no framework at all.

Whatever Python app a server runs pays at least this much a request: the server's own work, one call of the
app, the body read, a dict made JSON. The mock's ratio to it says how far the mock is from what the server
allows; its ratio to the bare Starlette route (``bare.py``), how much it adds to a framework. A POST reads its
whole body and answers a submit; anything else answers the poll.
"""

from __future__ import annotations

import json
import os
from typing import Any

import orjson

# The bodies the mock answered, handed over by bench/run.py, as bare.py reads them.
_TASK = json.loads(os.environ.get("BENCH_TASK_JSON", '{"task_id": "t", "status": "QUEUED"}'))
_SUBMITTED = {"task_id": _TASK["task_id"]}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    content = _TASK
    if scope["method"] == "POST":
        more = True
        while more:  # any submit handler must read what it was sent
            more = (await receive()).get("more_body", False)
        content = _SUBMITTED
    body = orjson.dumps(content)
    headers = [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
