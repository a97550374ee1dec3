"""An output downloads, in the shape its request asked for, from a worker that never saw the request."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers.mediacheck import decode

pytestmark = pytest.mark.slow

KEY = {"Authorization": "Bearer sk-mock-dev"}


def test_another_process_serves_the_shape_and_ranges_of_a_task_it_never_saw(spawn: Any) -> None:
    argv = ("--time-scale", "100000")
    with spawn(*argv) as (first, _), spawn(*argv) as (second, _):
        body = {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3", "aspect_ratio": "9:16", "duration": 3}
        headers = {**KEY, "X-Mock-Scenario": "success"}
        task_id = httpx.post(f"{first}/v2/videos/generations", json=body, headers=headers).json()["task_id"]
        for _ in range(1000):  # at this time scale a veo3 task ends within 4 ms
            task = httpx.get(f"{second}/v2/videos/generations/{task_id}", headers=KEY).json()
            if task["status"] == "SUCCESS":
                break
        link = task["data"]["output"]
        assert link.startswith(second)
        whole = httpx.get(link)
        part = httpx.get(link, headers={"Range": "bytes=0-99"})
        from_first = httpx.get(link.replace(second, first))
    video = decode(whole.content, "mp4")
    assert (video.codec, video.width, video.height, video.frames) == ("h264", 180, 320, 72)
    assert part.status_code == 206 and part.content == whole.content[:100]
    assert from_first.content == whole.content and from_first.headers["etag"] == whole.headers["etag"]
