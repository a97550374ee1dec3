"""Small clients of our own that behave as the client programs people run against gateways do.

None is any project's code: each does, in a few lines, the one thing a real client was seen doing that
a mock must survive (issue 22): numbers sent as strings, a client that knows four states and throws on
any other, a submit on OpenAI's ``/v1/videos`` polled on ``/v2``, new-api's ``/v1/video/generations``
with a fall back to ``/v2``, and a real decoder opening the video. Each request is a fresh connection,
so that under ``--workers 2`` the kernel hands them to either worker.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx

POLL_EVERY = 0.01  # real seconds between polls: the mock runs on a time scale, the clients on the clock
GIVE_UP = 60.0


class UnknownStatus(Exception):
    """What a client that knows only the documented states throws on any other."""


class Failed(Exception):
    """The task ended in failure; the message is its reason."""


@dataclass
class Client:
    base: str
    key: str = "sk-mock-dev"
    seen: list[str] = field(default_factory=list)  # every status polled, in order

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(f"{self.base}{path}", json=body, headers=self.headers())

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.base}{path}", headers=self.headers())

    def until_done(self, path: str, status_of: Any, terminal: set[str]) -> dict[str, Any]:
        """Poll ``path`` until ``status_of(answer)`` is terminal; every status is kept in ``seen``."""
        deadline = time.monotonic() + GIVE_UP
        while time.monotonic() < deadline:
            answer = self.get(path)
            answer.raise_for_status()
            task = answer.json()
            status = status_of(task)
            self.seen.append(status)
            self.check(status)
            if status in terminal:
                return task
            time.sleep(POLL_EVERY)
        raise TimeoutError(f"{path} still {self.seen[-1:]} after {GIVE_UP} s")

    def check(self, status: str) -> None:
        """Any status is fine to this client; ``FourStates`` is stricter."""


@dataclass
class StringNumbers(Client):
    """A Sora-style client: ``duration`` as a string ("10"), as the gateways' own Sora samples show it."""

    def generate(self, model: str, duration: str, **fields: Any) -> dict[str, Any]:
        body = {"model": model, "prompt": "A cat surfing in sunset, cinematic", "duration": duration, **fields}
        answer = self.post("/v2/videos/generations", body)
        answer.raise_for_status()
        task_id = answer.json()["task_id"]
        return self.until_done(f"/v2/videos/generations/{task_id}", lambda t: t["status"], {"SUCCESS", "FAILURE"})


@dataclass
class FourStates(Client):
    """Knows the four states a gateway's Veo and Sora pages list, and throws on any other (an n8n node)."""

    KNOWN = ("NOT_START", "IN_PROGRESS", "SUCCESS", "FAILURE")

    def check(self, status: str) -> None:
        if status not in self.KNOWN:
            raise UnknownStatus(f"Unknown status: {status}")

    def generate(self, model: str, **fields: Any) -> str:
        """The output URL; ``Failed`` with the reason if the task fails."""
        answer = self.post("/v2/videos/generations", {"model": model, "prompt": "A lighthouse at dusk", **fields})
        answer.raise_for_status()
        return self.follow(answer.json()["task_id"])

    def follow(self, task_id: str) -> str:
        task = self.until_done(f"/v2/videos/generations/{task_id}", lambda t: t["status"], {"SUCCESS", "FAILURE"})
        if task["status"] == "FAILURE":
            raise Failed(task["fail_reason"])
        return task["data"]["output"]


@dataclass
class OpenAISubmitV2Poll(FourStates):
    """Submits a Sora job on OpenAI's ``/v1/videos`` (reading ``task_id`` from the answer), then polls ``/v2``."""

    def generate(self, model: str, **fields: Any) -> str:
        body = {"model": model, "prompt": "A paper boat on a rainy street", "duration": "10", "aspect_ratio": "16:9"}
        answer = self.post("/v1/videos", {**body, **fields})
        answer.raise_for_status()
        return self.follow(answer.json()["task_id"])


@dataclass
class NewApiFallback(Client):
    """Speaks new-api's ``/v1/video/generations``; where a gateway does not serve it (404 or 405), ``/v2``.

    ``v1`` is the path it tries first: ``/v1/video/generations`` is new-api's, while some clients write
    ``/v1/videos/generations``, which no gateway of this family serves.
    """

    v1: str = "/v1/video/generations"
    used: str = ""

    def generate(self, model: str, **fields: Any) -> tuple[str, dict[str, Any]]:
        """The id and the finished task, as the route it could use answers it."""
        body = {"model": model, "prompt": "A kite over a beach", **fields}
        answer = self.post(self.v1, body)
        if answer.status_code in (404, 405):
            self.used = "/v2/videos/generations"
            answer = self.post(self.used, body)
            answer.raise_for_status()
            task_id = answer.json()["task_id"]
            return task_id, self.until_done(f"{self.used}/{task_id}", lambda t: t["status"], {"SUCCESS", "FAILURE"})
        answer.raise_for_status()
        self.used = self.v1
        task_id = answer.json()["task_id"]
        envelope = self.until_done(f"{self.v1}/{task_id}", lambda t: t["data"]["status"], {"SUCCESS", "FAILURE"})
        if envelope["code"] != "success":
            raise Failed(envelope["message"])
        return task_id, envelope["data"]


def download(url: str, key: str | None = None) -> bytes:
    """The file at ``url``, as a node's download step fetches it (with the key where the route wants one)."""
    answer = httpx.get(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    answer.raise_for_status()
    return answer.content
