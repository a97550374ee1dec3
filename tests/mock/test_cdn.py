"""Output links answer as a CDN does: HEAD, byte ranges (206, 416), ETag revalidation, Cache-Control."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import pytest
from starlette.testclient import TestClient

from mockserver import Config, create_app
from mockserver.http import downloads
from mockserver.http.media.serve import parse_range
from tests.helpers.fakeclock import Clock

KEY = {"Authorization": "Bearer sk-mock-dev"}


@pytest.fixture
def link():
    """A client and the link of a finished veo3 video (links live two days), with its full bytes."""
    clock = Clock()
    with TestClient(create_app(Config(), clock=clock)) as client:
        body = {"prompt": "p", "model": "veo3", "duration": 5, "aspect_ratio": "16:9"}
        task_id = client.post(
            "/v2/videos/generations", json=body, headers={**KEY, "X-Mock-Scenario": "success"}
        ).json()["task_id"]
        clock.now += 1000
        task = client.get(f"/v2/videos/generations/{task_id}", headers=KEY).json()
        url = task["data"]["output"]
        full = client.get(url)
        yield client, url, full, clock, task["finish_time"]


def test_a_full_download_says_its_length_etag_and_how_long_to_cache(link) -> None:
    _, _, full, clock, finished = link
    assert full.status_code == 200
    assert int(full.headers["content-length"]) == len(full.content) > 1000
    assert full.headers["etag"].startswith('"') and full.headers["accept-ranges"] == "bytes"
    max_age = int(full.headers["cache-control"].removeprefix("public, max-age="))
    until_expiry = finished + 2 * 86400 - clock.now  # veo3's links live two days after the task finishes
    assert until_expiry - 1 <= max_age <= until_expiry


def test_head_gives_the_headers_of_get_and_no_body(link) -> None:
    client, url, full, _, _ = link
    head = client.head(url)
    assert head.status_code == 200 and head.content == b""
    for name in ("content-length", "content-type", "etag", "cache-control", "accept-ranges"):
        assert head.headers[name] == full.headers[name]


@pytest.mark.parametrize(
    ("given", "first", "last"),
    [("bytes=0-99", 0, 99), ("bytes=100-", 100, None), ("bytes=-50", -50, None), ("bytes=10-999999999", 10, None)],
)
def test_a_range_is_a_206_with_those_bytes_and_a_content_range(link, given: str, first: int, last: int | None) -> None:
    client, url, full, _, _ = link
    size = len(full.content)
    part = client.get(url, headers={"Range": given})
    start = first % size
    end = size - 1 if last is None else last
    assert part.status_code == 206
    assert part.content == full.content[start : end + 1]
    assert part.headers["content-range"] == f"bytes {start}-{end}/{size}"
    assert int(part.headers["content-length"]) == end - start + 1
    assert part.headers["etag"] == full.headers["etag"]


def test_a_range_past_the_end_is_a_416_naming_the_size(link) -> None:
    client, url, full, _, _ = link
    for given in (f"bytes={len(full.content)}-", "bytes=-0"):
        answer = client.get(url, headers={"Range": given})
        assert answer.status_code == 416
        assert answer.headers["content-range"] == f"bytes */{len(full.content)}"


def test_a_range_that_does_not_parse_or_is_stale_sends_the_whole_file(link) -> None:
    client, url, full, _, _ = link
    for headers in (
        {"Range": "bytes=9-3"},
        {"Range": "items=0-1"},
        {"Range": "bytes=0-1,5-6"},
        {"Range": "bytes=0-1", "If-Range": '"old"'},
    ):
        answer = client.get(url, headers=headers)
        assert answer.status_code == 200 and answer.content == full.content


def test_a_known_etag_revalidates_as_304_and_another_downloads(link) -> None:
    client, url, full, _, _ = link
    assert client.get(url, headers={"If-None-Match": full.headers["etag"]}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"other"'}).content == full.content


def test_if_range_with_the_current_etag_keeps_the_range(link) -> None:
    client, url, full, _, _ = link
    part = client.get(url, headers={"Range": "bytes=5-9", "If-Range": full.headers["etag"]})
    assert part.status_code == 206 and part.content == full.content[5:10]


@pytest.mark.parametrize("form", ["{etag}", '"other", {etag}', "W/{etag}", "*"])
def test_if_none_match_in_each_form_revalidates_get_and_head_without_a_body(link, form: str) -> None:
    client, url, full, _, _ = link
    for method in ("GET", "HEAD"):
        answer = client.request(method, url, headers={"If-None-Match": form.format(etag=full.headers["etag"])})
        assert answer.status_code == 304 and answer.content == b""
        assert answer.headers["etag"] == full.headers["etag"]
        assert answer.headers["cache-control"] == full.headers["cache-control"]


def test_head_of_a_range_gives_its_headers_and_no_body(link) -> None:
    client, url, full, _, _ = link
    head = client.head(url, headers={"Range": "bytes=0-99"})
    assert head.status_code == 206 and head.content == b""
    assert head.headers["content-length"] == "100"
    assert head.headers["content-range"] == f"bytes 0-99/{len(full.content)}"


def test_an_expired_link_still_answers_403_to_head_and_range(link) -> None:
    client, url, _, clock, _ = link
    clock.now += 3 * 86400
    assert client.get(url, headers={"Range": "bytes=0-9"}).status_code == 403
    assert client.head(url).status_code == 403


def test_parse_range_reads_only_single_byte_ranges() -> None:
    assert parse_range("bytes=0-0", 10) == (0, 0)
    assert parse_range("bytes=-20", 10) == (0, 9)
    assert parse_range("bytes=10-", 10) is False
    assert parse_range("bytes=a-b", 10) is None and parse_range("bytes=-", 10) is None


def test_a_range_of_other_digits_or_of_thousands_of_digits_is_ignored_or_416_never_a_500(link) -> None:
    """``bytes=²-`` passed ``str.isdigit`` and failed ``int``; 4,300 digits failed ``int`` too: a 500 with a
    traceback on a public link. Only ASCII digits are positions, and one past any size is past the end."""
    client, url, full, _, _ = link
    size, huge = len(full.content), "9" * 4300
    for given, status in (
        ("bytes=\u00b2-", 200),
        ("bytes=0-\u00b3", 200),
        (f"bytes={huge}-", 416),
        (f"bytes=0-{huge}", 206),
        (f"bytes=-{huge}", 206),
    ):
        answer = client.get(url, headers={"Range": given.encode("latin-1")})
        assert answer.status_code == status, (given[:20], answer.status_code)
        if status == 206:
            assert answer.content == full.content and answer.headers["content-range"] == f"bytes 0-{size - 1}/{size}"
    assert parse_range("bytes=\u00b2-", 10) is None and parse_range(f"bytes={huge}-", 10) is False


def max_age(answer) -> int:
    return int(answer.headers["cache-control"].removeprefix("public, max-age="))


def test_max_age_counts_down_to_the_links_expiry_on_each_download_of_it(link) -> None:
    """The link's checks are kept between downloads; the seconds it may still be cached are not."""
    client, url, full, clock, _ = link
    waited = 0
    for step in (1, 100, 3600):
        clock.now += step
        waited += step
        answers = (client.get(url), client.head(url), client.get(url, headers={"Range": "bytes=0-9"}))
        assert [max_age(answer) for answer in answers] == [max_age(full) - waited] * 3


def test_a_link_that_served_does_not_serve_at_an_earlier_time(link) -> None:
    """A clock set back to before the task finished finds it unfinished, as a poll would."""
    client, url, full, clock, finished = link
    clock.now = finished - 1
    assert client.get(url).status_code == 404
    clock.now = finished + 1
    assert client.get(url).content == full.content


def test_a_link_of_a_task_forgotten_by_a_reset_answers_404_at_once() -> None:
    clock = Clock()
    with TestClient(create_app(Config(admin_key="sk-admin"), clock=clock)) as client:
        body = {"prompt": "p", "model": "veo3", "duration": 1}
        headers = {**KEY, "X-Mock-Scenario": "success"}
        task_id = client.post("/v2/videos/generations", json=body, headers=headers).json()["task_id"]
        clock.now += 1000
        url = client.get(f"/v2/videos/generations/{task_id}", headers=KEY).json()["data"]["output"]
        assert client.get(url).status_code == 200
        assert client.post("/_mock/reset", headers={"Authorization": "Bearer sk-admin"}).status_code == 200
        assert client.get(url).status_code == 404


def test_past_the_bound_of_links_kept_every_link_still_serves_its_own_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(downloads, "LINKS", 1)
    clock = Clock()
    with TestClient(create_app(Config(), clock=clock)) as client:
        headers = {**KEY, "X-Mock-Scenario": "outputs, success"}
        task_id = client.post("/v2/audio/generations", json={"prompt": "p", "model": "m"}, headers=headers).json()[
            "task_id"
        ]
        clock.now += 1000
        urls = client.get(f"/v2/audio/generations/{task_id}", headers=KEY).json()["data"]["outputs"]
        first = [client.get(url).content for url in urls]
        assert len(set(first)) == len(urls) > 1
        assert [client.get(url).content for url in urls * 2] == first * 2


def test_the_download_handler_reads_its_ids_from_the_path_so_any_router_can_call_it() -> None:
    """Called as a plain ASGI app, with no ``path_params``: as a router in front of Starlette would."""
    clock = Clock()
    app = create_app(Config(), clock=clock)
    with TestClient(app) as client:
        body = {"prompt": "p", "model": "veo3", "duration": 1}
        headers = {**KEY, "X-Mock-Scenario": "success"}
        task_id = client.post("/v2/videos/generations", json=body, headers=headers).json()["task_id"]
        clock.now += 1000
        url = client.get(f"/v2/videos/generations/{task_id}", headers=KEY).json()["data"]["output"]
        full = client.get(url)
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": urlsplit(url).path, "headers": [(b"host", b"testserver")]}
    asyncio.run(downloads.downloads(app.state.service)(scope, receive, send))
    assert sent[0]["status"] == 200 and sent[1]["body"] == full.content
    assert dict(sent[0]["headers"])[b"etag"] == full.headers["etag"].encode()
