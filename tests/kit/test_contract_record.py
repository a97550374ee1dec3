"""``--contract-record``: the kit's paid tasks as recording lines, which fit reads as it reads the recorder's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mockserver.contract.recording import read
from mockserver.recording.fit import fit
from tests.helpers.harness import run_pytest

pytestmark = pytest.mark.slow

KIT = ["--pyargs", "contract_tests", "--contract-mock"]


def test_each_paid_task_of_a_run_is_a_recording_line(tmp_path: Path) -> None:
    out = tmp_path / "kit.jsonl"
    result = run_pytest(tmp_path, *KIT, "--contract-record", str(out))
    assert result.ret == 0, result.out[-4000:]
    created = int(re.search(r"tasks created: (\d+) of a budget", result.out).group(1))
    lines = read(out).lines  # every line checked against schemas/recording.json
    assert len(lines) == created
    assert {(line["scope"], line["model"]) for line in lines} == {
        ("images", "gpt-image-1"),
        ("videos", "veo3"),
        ("audio", "suno-v4"),
    }
    assert all(line["ended"] in ("SUCCESS", "FAILURE") and line["statuses"] for line in lines)
    assert all(line["latency"]["submit"] > 0 and line["latency"]["poll"]["count"] == line["polls"] for line in lines)
    succeeded = [line for line in lines if line["ended"] == "SUCCESS"]
    assert all(
        m["type"].split("/")[0] in ("image", "video", "audio") for line in succeeded for m in line["outputs"]["media"]
    )
    assert "sk-contract" not in out.read_text(), "keys are never written"
    assert set(fit(lines).models) == {"gpt-image-1", "veo3", "suno-v4"}


def test_a_recording_that_cannot_be_written_stops_the_run_before_any_task(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, *KIT, "--contract-record", str(tmp_path / "no" / "such" / "dir.jsonl"))
    assert result.ret == 4 and "--contract-record cannot write" in result.err + result.out
