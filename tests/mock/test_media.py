"""Output links serve real files of the scope's media kind, and only once the task has succeeded."""

from __future__ import annotations

import io
import struct
import wave
import zlib

import pytest
from starlette.testclient import TestClient

from mockserver import Config, create_app
from mockserver.profiles import Profile, fixed

KEY = {"Authorization": "Bearer sk-mock-dev"}
SURE = Profile(queue=fixed(1), run=fixed(10), fail_rate=0.0)


def _png_pixels(data: bytes) -> int:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", data[16:24])
    idat_len = struct.unpack(">I", data[33:37])[0]
    assert data[37:41] == b"IDAT"
    assert len(zlib.decompress(data[41 : 41 + idat_len])) == height * (1 + 3 * width)
    return width * height


def _wav_frames(data: bytes) -> int:
    with wave.open(io.BytesIO(data)) as sound:
        return sound.getnframes()


def _mp4_boxes(data: bytes) -> list[bytes]:
    kinds, at = [], 0
    while at < len(data):
        size = struct.unpack(">I", data[at : at + 4])[0]
        assert size >= 8 and at + size <= len(data)
        kinds.append(data[at + 4 : at + 8])
        at += size
    return kinds


@pytest.mark.parametrize(
    ("scope", "kind", "is_valid"),
    [
        ("images", "image/png", lambda d: _png_pixels(d) > 0),
        ("audio", "audio/wav", lambda d: _wav_frames(d) > 0),
        ("videos", "video/mp4", lambda d: _mp4_boxes(d) == [b"ftyp", b"moov"]),
    ],
)
def test_output_downloads_as_valid_media_of_its_scope(scope: str, kind: str, is_valid) -> None:
    clock = [1_756_693_797.0]
    app = create_app(Config(profiles={scope: SURE}), clock=lambda: clock[0])
    with TestClient(app) as client:
        task_id = client.post(f"/v2/{scope}/generations", json={"prompt": "p", "model": "m"}, headers=KEY).json()["task_id"]
        link = f"/_media/{task_id}/0.{kind.split('/')[1]}"
        assert client.get(link).status_code == 404
        clock[0] += 11
        output = client.get(f"/v2/{scope}/generations/{task_id}", headers=KEY).json()["data"]["output"]
        assert output == f"http://testserver{link}"
        response = client.get(output)
    assert response.status_code == 200
    assert response.headers["content-type"] == kind
    assert is_valid(response.content)


@pytest.mark.parametrize(("ttl", "expired_after"), [(3600, 3600), (0, None)])
def test_links_expire_as_a_signed_url_does(ttl: float, expired_after: float | None) -> None:
    """After link_ttl past the finish, the link answers 403 with S3's XML AccessDenied, as real signed URLs do."""
    clock = [1_756_693_797.0]
    profile = Profile(queue=fixed(1), run=fixed(10), fail_rate=0.0, link_ttl=ttl)
    with TestClient(create_app(Config(profiles={"images": profile}, time_scale=2), clock=lambda: clock[0])) as client:
        task_id = client.post("/v2/images/generations", json={"prompt": "p", "model": "m"}, headers=KEY).json()["task_id"]
        finished = clock[0] + 11 / 2
        clock[0] = finished
        link = client.get(f"/v2/images/generations/{task_id}", headers=KEY).json()["data"]["output"]
        clock[0] = finished + 3600 / 2 - 1
        assert client.get(link).status_code == 200
        clock[0] = finished + 3600 / 2
        response = client.get(link)
        task = client.get(f"/v2/images/generations/{task_id}", headers=KEY).json()
    if expired_after is None:
        assert response.status_code == 200
        return
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/xml")
    assert b"<Code>AccessDenied</Code>" in response.content and b"Request has expired" in response.content
    assert task["status"] == "SUCCESS" and task["data"]["output"] == link


def test_only_the_tasks_own_output_names_are_served() -> None:
    clock = [1_756_693_797.0]
    app = create_app(Config(profiles={"audio": Profile(queue=fixed(1), run=fixed(1), fail_rate=0.0, outputs=2)}), clock=lambda: clock[0])
    with TestClient(app) as client:
        task_id = client.post("/v2/audio/generations", json={"prompt": "p", "model": "m"}, headers=KEY).json()["task_id"]
        clock[0] += 5
        outputs = client.get(f"/v2/audio/generations/{task_id}", headers=KEY).json()["data"]["outputs"]
        assert [client.get(url).status_code for url in outputs] == [200, 200]
        assert client.get(f"/_media/{task_id}/2.wav").status_code == 404
        assert client.get(f"/_media/{task_id}/0.png").status_code == 404
