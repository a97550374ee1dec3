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
