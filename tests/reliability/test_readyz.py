"""``/readyz`` on Redis: unready while Redis is down, ready again once it is back, with no restart."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from mockserver import Config, create_app
from mockserver.stores.redis import RedisStore
from mockserver.testing import serving

pytestmark = pytest.mark.slow

SECRET = b"readyz"


def _until(url: str, status: int, failing: str = "store", limit: float = 30.0) -> dict[str, Any]:
    """``/readyz``'s answer once it is ``status``, with the check ``failing`` failing if it is a 503: the listener
    notices a lost Redis, and reconnects, on its own schedule."""
    deadline = time.monotonic() + limit
    while True:
        answer = httpx.get(f"{url}/readyz", timeout=5)
        if answer.status_code == status and (status == 200 or answer.json()["checks"][failing] != "ok"):
            return answer.json()
        assert time.monotonic() < deadline, f"/readyz stayed {answer.status_code}: {answer.text}"
        time.sleep(0.1)


def test_readyz_is_503_while_redis_is_down_and_200_once_it_is_back(redis_server: Any) -> None:
    store = RedisStore(redis_server.url)
    slot = store.claim_slot(SECRET)
    with serving(create_app(Config(), store=store, secret=SECRET, slot=slot)) as url:
        ready = _until(url, 200)
        assert ready == {"status": "ready", "checks": {"store": "ok", "listener": "ok", "nonce_slot": "ok"}}
        redis_server.stop()
        down = _until(url, 503)
        assert down["status"] == "unready"
        assert down["checks"]["store"].startswith("the store does not answer: Redis at redis://127.0.0.1:")
        assert httpx.get(f"{url}/healthz").status_code == 200  # alive all the while: no restart wanted
        assert (
            _until(url, 503, failing="listener")["checks"]["listener"]
            == "not subscribed to the fleet's changes in Redis"
        )
        redis_server.start()
        assert _until(url, 200)["checks"] == {"store": "ok", "listener": "ok", "nonce_slot": "ok"}
