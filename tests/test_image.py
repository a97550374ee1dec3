"""The Containerfile: built with podman on a base made from Debian's packages, run, asked, stopped.

No container registry is reachable here, so the base is a Debian made with debootstrap (python3 and
python3-venv: the plain base the Containerfile must also build on), imported once. podman runs as root
with runc and the limits of /etc/containers/containers.conf (.ci/run writes it), and pip in the build
trusts the host's CA bundle, mounted for the build only. Where podman cannot run, this fails saying why.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mockserver import contract
from mockserver.testing import free_port

pytestmark = [pytest.mark.slow, pytest.mark.podman, pytest.mark.processes]

ROOT = Path(__file__).resolve().parents[1]
BASE = "localhost/local/python:bookworm"
IMAGE = "localhost/unified-generations:test"
CA = Path("/etc/ssl/certs/ca-certificates.crt")
HEADERS = {"Authorization": "Bearer sk-mock-dev"}


def podman(*argv: str, timeout: float = 600) -> str:
    done = subprocess.run(["podman", *argv], check=False, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        pytest.fail(f"podman {' '.join(argv[:2])} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout.strip()


def _base() -> None:
    """Debian bookworm with python3 and python3-venv, made with debootstrap (about 30 s) unless already here."""
    if subprocess.run(["podman", "image", "exists", BASE], check=False).returncode == 0:
        return
    if shutil.which("debootstrap") is None:
        pytest.fail("debootstrap is missing: apt-get install -y debootstrap (as .ci/run does)")
    with tempfile.TemporaryDirectory(prefix="debian-base-") as rootfs:
        included = "--include=python3,python3-venv,ca-certificates"
        where = "http://deb.debian.org/debian"
        made = subprocess.run(
            ["debootstrap", "--variant=minbase", included, "bookworm", rootfs, where],
            check=False,
            capture_output=True,
            text=True,
        )
        if made.returncode != 0:
            pytest.fail(f"debootstrap failed:\n{made.stdout[-2000:]}{made.stderr[-2000:]}")
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(
            ["podman", "import", "-", BASE], check=False, stdin=tar.stdout, capture_output=True, text=True
        )
        tar.wait()
        if imported.returncode != 0:
            pytest.fail(f"podman import failed:\n{imported.stderr[-2000:]}")


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Built once a run: pytest-xdist's workers share the parent of their temporary folders, and a lock there
    makes the second wait for the first's build, then find every layer cached."""
    if shutil.which("podman") is None:
        pytest.fail("podman is missing: apt-get install -y podman runc netavark aardvark-dns catatonit (.ci/run)")
    podman("info", timeout=60)  # fails here, quoting podman, where it cannot run
    with open(tmp_path_factory.getbasetemp().parent / "podman-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _base()
        trust = ["-v", f"{CA}:/run/host-ca.crt:ro", "--build-arg", "PIP_CERT=/run/host-ca.crt"] if CA.exists() else []
        podman("build", "-q", "-t", IMAGE, "-f", "Containerfile", "--build-arg", f"BASE={BASE}", *trust, str(ROOT))
    return IMAGE


@pytest.fixture
def container(image: str) -> Iterator[tuple[str, str]]:
    """The image serving on a free loopback port, its settings from the environment; removed afterwards.

    It runs as deploy/kubernetes/ runs it: a read-only root (podman mounts a tmpfs on /tmp) and no capabilities.
    """
    port = free_port()
    name = f"mock-test-{port}"
    confined = ["--read-only", "--cap-drop=all", "--security-opt=no-new-privileges"]
    podman(
        "run", "-d", "--name", name, *confined, "-p", f"127.0.0.1:{port}:8000", "-e", "MOCKSERVER_TIME_SCALE=600", image
    )
    try:
        yield name, f"http://127.0.0.1:{port}"
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "0", name], check=False, capture_output=True)


def _ready(url: str, name: str, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            logs = subprocess.run(["podman", "logs", name], check=False, capture_output=True, text=True)
            pytest.fail(f"the container never became ready; its log:\n{logs.stdout}{logs.stderr}")
        time.sleep(0.2)


def test_the_image_runs_as_no_root_user_and_serves_on_port_8000(image: str) -> None:
    config = json.loads(podman("image", "inspect", image))[0]["Config"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["mockserver"]
    assert "MOCKSERVER_HOST=0.0.0.0" in config["Env"] and "MOCKSERVER_PORT=8000" in config["Env"]


def test_the_spec_example_through_the_image_then_sigterm_stops_it_cleanly(container: tuple[str, str]) -> None:
    name, url = container
    _ready(url, name)
    body = json.loads((contract.fixtures_dir() / "spec" / "example-submit-request.json").read_text())
    with httpx.Client(base_url=url, headers=HEADERS, timeout=10) as http:
        submitted = http.post("/v2/videos/generations", json=body, headers={"X-Mock-Scenario": "success"})
        assert submitted.status_code == 200 and contract.is_valid("submit-response", submitted.json())
        task_id = submitted.json()["task_id"]
        deadline = time.monotonic() + 60
        while (task := http.get(f"/v2/videos/generations/{task_id}").json())["status"] not in ("SUCCESS", "FAILURE"):
            assert contract.is_valid("task", task), task
            assert time.monotonic() < deadline, task
            time.sleep(0.2)
        assert task["status"] == "SUCCESS" and contract.is_valid("task", task), task
        video = http.get(task["data"]["output"])  # made with PyAV inside the image: no system ffmpeg
        assert video.status_code == 200 and video.content[4:8] == b"ftyp"
    podman("stop", "-t", "20", name, timeout=60)
    state = json.loads(podman("inspect", name))[0]["State"]
    assert state["ExitCode"] == 0, state  # SIGTERM honoured, not a SIGKILL after the timeout (137)
