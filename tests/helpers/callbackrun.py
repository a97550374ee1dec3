"""Driving callbacks in-process: a clock the test moves, a mock on it, and the sender made to send what is due."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from mockserver import create_app
from mockserver.engine.config import config_from

ADMIN = {"Authorization": "Bearer adm"}
KEY = {"Authorization": "Bearer sk-mock-dev"}
BODY = {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}
TERMINAL = {"SUCCESS", "FAILURE"}


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def make(clock: Clock, *receivers: Any, **callbacks: Any) -> Any:
    """A mock at 100x (a veo3 task ends within 4 s), with an admin key, and these ``[callbacks]`` settings; it may
    call back these receivers (or ports) of this machine."""
    ports = [getattr(receiver, "port", receiver) for receiver in receivers]
    if ports:
        callbacks = {"local_ports": ports, **callbacks}
    return create_app(
        config_from({"time_scale": 100, "seed": 3, "admin_key": "adm", "callbacks": callbacks}), clock=clock
    )


async def submit(
    http: httpx.AsyncClient, count: int, extra: dict[str, Any], headers: dict[str, str] | None = None
) -> list[str]:
    ids = []
    for n in range(count):
        scope = ("videos", "images", "audio")[n % 3]
        answer = await http.post(f"/v2/{scope}/generations", json={**BODY, **extra}, headers={**KEY, **(headers or {})})
        assert answer.status_code == 200, answer.text
        ids.append(answer.json()["task_id"])
    return ids


async def run_for(app: Any, clock: Clock, seconds: float, step: float = 0.05) -> None:
    """Move the clock ``seconds`` on in steps, sending what falls due at each."""
    sender = app.state.service.callbacks
    for _ in range(round(seconds / step)):
        clock.now += step
        await sender.send_due()


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mock.test")


def attempts(app: Any) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        async with client(app) as http:
            return (await http.get("/_mock/callbacks", headers=ADMIN)).json()["attempts"]

    return asyncio.run(read())


def journal(app: Any) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        async with client(app) as http:
            return (await http.get("/_mock/journal", headers=ADMIN)).json()["entries"]

    return asyncio.run(read())
