"""Output links serve real files of the scope's media kind, and only once the task has succeeded."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from mockserver import Config, create_app
from mockserver.engine.profiles import Profile, fixed
from mockserver.http import media
from mockserver.http.media import render
from tests.helpers.fakeclock import Clock
from tests.helpers.mediacheck import Decoded, decode

KEY = {"Authorization": "Bearer sk-mock-dev"}
SURE = Profile(queue=fixed(1), run=fixed(10), fail_rate=0.0)


def _decoded(scope: str, body: dict, model: str = "m", scenario: str = "success") -> list[Decoded]:
    """Submit ``body``, let the task finish, and decode each of its outputs with PyAV."""
    clock = Clock()
    with TestClient(create_app(Config(), clock=clock)) as client:
        headers = {**KEY, "X-Mock-Scenario": scenario}
        task_id = client.post(
            f"/v2/{scope}/generations", json={"prompt": "p", "model": model, **body}, headers=headers
        ).json()["task_id"]
        clock.now += 10_000
        data = client.get(f"/v2/{scope}/generations/{task_id}", headers=KEY).json()["data"]
        urls = data.get("outputs") or [data["output"]]
        answers = [client.get(url) for url in urls]
    assert all(a.status_code == 200 and a.headers["content-type"] == media.content_type(scope) for a in answers)
    return [decode(a.content, media.SUBTYPES[scope]) for a in answers]


@pytest.mark.parametrize(
    ("model", "body", "size", "seconds"),
    [
        ("veo3", {}, (320, 180), 8.0),  # veo3's own default: 8 s at 16:9
        ("sora-2", {"aspect_ratio": "9:16", "duration": 3}, (180, 320), 3.0),
        ("m", {"size": "1024x1024", "duration": 2.5}, (320, 320), 2.5),
        ("m", {"resolution": "1080P", "aspect_ratio": "21:9"}, (320, 138), 5.0),
        ("m", {"size": "256x144", "resolution": "4K", "duration": 1}, (256, 144), 1.0),  # size wins
    ],
)
def test_videos_are_h264_that_decodes_frame_by_frame_in_the_shape_asked(model, body, size, seconds) -> None:
    (video,) = _decoded("videos", body, model)
    assert video.codec == "h264"
    assert (video.width, video.height) == size
    assert video.frames == round(seconds * render.FPS)
    assert abs(video.seconds - seconds) <= 0.5
    assert video.first != video.last  # the bar moves


@pytest.mark.parametrize(
    ("model", "body", "size"),
    [
        ("gpt-image-1", {}, (1024, 1024)),
        ("gpt-image-1", {"aspect_ratio": "16:9"}, (1820, 1024)),
        ("m", {"size": "640x360"}, (640, 360)),
        ("m", {"resolution": "480p", "aspect_ratio": "3:4"}, (480, 640)),
        ("m", {"size": "9000x4500"}, (4096, 2048)),  # capped, keeping the aspect ratio
    ],
)
def test_images_are_pngs_of_the_size_asked(model, body, size) -> None:
    (image,) = _decoded("images", body, model)
    assert image.codec == "png" and (image.width, image.height) == size and image.frames == 1


@pytest.mark.parametrize(
    ("model", "body", "seconds"), [("m", {"duration": 7.5}, 7.5), ("m", {}, 30.0), ("suno-v4", {}, 120.0)]
)
def test_audio_is_wav_of_the_duration_asked(model, body, seconds) -> None:
    for sound in _decoded("audio", body, model):
        assert sound.codec == "pcm_s16le" and abs(sound.seconds - seconds) <= 0.5


@pytest.mark.parametrize(("scope", "model"), [("images", "flux-dev"), ("videos", "veo3"), ("audio", "suno-v4")])
def test_each_output_of_a_task_is_a_different_file(scope: str, model: str) -> None:
    clock = Clock()
    with TestClient(create_app(Config(), clock=clock)) as client:
        headers = {**KEY, "X-Mock-Scenario": "outputs, success"}
        body = {"prompt": "p", "model": model, "duration": 1, "size": "64x64"}
        task_id = client.post(f"/v2/{scope}/generations", json=body, headers=headers).json()["task_id"]
        clock.now += 1000  # flux-dev links live an hour
        urls = client.get(f"/v2/{scope}/generations/{task_id}", headers=KEY).json()["data"]["outputs"]
        bodies = [client.get(url).content for url in urls]
    assert len(urls) == 4 and len(set(bodies)) == 4


def test_any_worker_serves_the_shape_another_one_accepted() -> None:
    """The shape travels in the signed id: a second app with the same secret, which stored nothing, serves it."""
    clock = Clock()
    first, second = (create_app(Config(), clock=clock, secret=b"shared") for _ in range(2))
    with TestClient(first) as one, TestClient(second) as other:
        body = {"prompt": "p", "model": "m", "aspect_ratio": "9:16", "duration": 2}
        task_id = one.post("/v2/videos/generations", json=body, headers={**KEY, "X-Mock-Scenario": "success"}).json()[
            "task_id"
        ]
        clock.now += 10_000
        link = other.get(f"/v2/videos/generations/{task_id}", headers=KEY).json()["data"]["output"]
        video = decode(other.get(link).content, "mp4")
    assert (video.width, video.height, video.frames) == (180, 320, 2 * render.FPS)


@pytest.mark.parametrize(("ttl", "expired_after"), [(3600, 3600), (0, None)])
def test_links_expire_as_a_signed_url_does(ttl: float, expired_after: float | None) -> None:
    """After link_ttl past the finish, the link answers 403 with S3's XML AccessDenied, as real signed URLs do."""
    clock = Clock()
    profile = Profile(queue=fixed(1), run=fixed(10), fail_rate=0.0, link_ttl=ttl)
    with TestClient(create_app(Config(profiles={"images": profile}, time_scale=2), clock=clock)) as client:
        task_id = client.post("/v2/images/generations", json={"prompt": "p", "model": "m"}, headers=KEY).json()[
            "task_id"
        ]
        finished = clock.now + 11 / 2
        clock.now = finished
        link = client.get(f"/v2/images/generations/{task_id}", headers=KEY).json()["data"]["output"]
        clock.now = finished + 3600 / 2 - 1
        assert client.get(link).status_code == 200
        clock.now = finished + 3600 / 2
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
    clock = Clock()
    app = create_app(
        Config(profiles={"audio": Profile(queue=fixed(1), run=fixed(1), fail_rate=0.0, outputs=2)}),
        clock=clock,
    )
    with TestClient(app) as client:
        task_id = client.post("/v2/audio/generations", json={"prompt": "p", "model": "m"}, headers=KEY).json()[
            "task_id"
        ]
        clock.now += 5
        outputs = client.get(f"/v2/audio/generations/{task_id}", headers=KEY).json()["data"]["outputs"]
        assert [client.get(url).status_code for url in outputs] == [200, 200]
        assert client.get(f"/_media/{task_id}/2.wav").status_code == 404
        assert client.get(f"/_media/{task_id}/0.png").status_code == 404


def test_the_media_cache_keeps_within_its_budget_and_makes_each_file_once() -> None:
    import asyncio

    from mockserver.engine.output_shape import Shape
    from mockserver.http.media.cache import MediaCache

    cache = MediaCache(budget=40_000)
    shapes = [Shape(0, 0, 0, 1 + n / 10).pack() for n in range(8)]  # WAVs of 16 to 27 kB

    async def fetch() -> list[bytes]:
        first = [(await cache.get("audio", shape, 3)).body for shape in shapes]
        again = await cache.get("audio", shapes[-1], 3)
        assert again.body is first[-1]  # kept: the same object, not made anew
        return first

    bodies = asyncio.run(fetch())
    assert cache.size <= 40_000 and 0 < len(cache) < len(shapes)
    assert cache.size == sum(len(b) for b in bodies[-len(cache) :])


def test_a_video_has_its_index_before_its_frames_so_players_start_at_once() -> None:
    from mockserver.engine.output_shape import Shape

    data = render.video(Shape(0, 1280, 720, 2), 5)
    boxes, at = [], 0
    while at < len(data):
        size = int.from_bytes(data[at : at + 4], "big")
        boxes.append(data[at + 4 : at + 8])
        at += size
    assert boxes.index(b"moov") < boxes.index(b"mdat")


def test_concurrent_downloads_of_a_new_file_render_it_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forty GETs of one new shape at once each rendered it: 10 s of CPU instead of a quarter of one."""
    import asyncio

    from mockserver.engine.output_shape import Shape
    from mockserver.http.media.cache import MediaCache

    calls: list[int] = []
    make = render.MAKERS["images"]

    def counted(shape: Shape, hue: int) -> bytes:
        calls.append(hue)
        return make(shape, hue)

    monkeypatch.setitem(render.MAKERS, "images", counted)
    cache, shape = MediaCache(), Shape(0, 640, 360, 0).pack()

    async def fetch() -> list[bytes]:
        return [made.body for made in await asyncio.gather(*(cache.get("images", shape, 3) for _ in range(40)))]

    bodies = asyncio.run(fetch())
    assert calls == [3] and len(set(bodies)) == 1 and len(bodies) == 40


def test_no_more_files_are_made_at_once_than_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio
    import threading

    from mockserver.engine.output_shape import Shape
    from mockserver.http.media.cache import MediaCache

    bound, making, most = 2, [0], [0]
    lock, full, go = threading.Lock(), threading.Event(), threading.Event()
    make = render.MAKERS["images"]

    def held(shape: Shape, hue: int) -> bytes:
        with lock:
            making[0] += 1
            most[0] = max(most[0], making[0])
            if making[0] >= bound:
                full.set()
        go.wait(30)
        with lock:
            making[0] -= 1
        return make(shape, hue)

    monkeypatch.setitem(render.MAKERS, "images", held)
    cache, shape = MediaCache(renders=bound), Shape(0, 8, 8, 0).pack()

    async def fetch() -> int:
        fetching = asyncio.gather(*(cache.get("images", shape, hue) for hue in range(10)))
        assert await asyncio.to_thread(full.wait, 30)
        for _ in range(20):  # the loop runs on: any render not held back by the bound starts now
            await asyncio.sleep(0)
        go.set()
        return len(await fetching)

    assert asyncio.run(fetch()) == 10
    assert most[0] == bound


def test_a_worker_keeps_serving_another_ones_link_until_a_reset_forgets_the_task() -> None:
    """Links of tasks a worker rebuilt from their ids are kept as its own are, and dropped with them."""
    clock = Clock()
    first, second = (create_app(Config(admin_key="sk-admin"), clock=clock, secret=b"shared") for _ in range(2))
    with TestClient(first) as one, TestClient(second) as other:
        body = {"prompt": "p", "model": "m", "duration": 1}
        task_id = one.post("/v2/videos/generations", json=body, headers={**KEY, "X-Mock-Scenario": "success"}).json()[
            "task_id"
        ]
        clock.now += 10_000
        link = other.get(f"/v2/videos/generations/{task_id}", headers=KEY).json()["data"]["output"]
        served = [other.get(link) for _ in range(3)]
        assert [answer.status_code for answer in served] == [200] * 3 and len({a.content for a in served}) == 1
        clock.now += 1
        assert other.post("/_mock/reset", headers={"Authorization": "Bearer sk-admin"}).status_code == 200
        assert other.get(link).status_code == 404
