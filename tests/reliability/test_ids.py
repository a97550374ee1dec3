"""Signed task ids: what goes in comes out, and anything else reads as no task."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mockserver.engine import ids

SECRET = ids.derive_secret(0, ("sk-mock-dev",))
OWNER = -(2**63)  # owners are signed 64-bit key hashes, as SQLite stores them: the extremes round-trip too
tickets = st.builds(
    ids.Ticket,
    submitted_ms=st.integers(0, 2**48 - 1),
    profile=st.integers(0, 2**16 - 1),
    scenario=st.integers(0, 255),
    nonce=st.integers(0, 2**56 - 1),
    shape=st.integers(0, 2**48 - 1),
)


@given(tickets)
def test_an_id_gives_back_its_ticket_only_for_its_scope_and_owner(ticket: ids.Ticket) -> None:
    task_id = ids.mint(SECRET, ticket, "videos", OWNER)
    assert ids.read(SECRET, task_id, "videos", OWNER) == ticket
    assert ids.read(SECRET, task_id, "images", OWNER) is None
    assert ids.read(SECRET, task_id, "videos", OWNER + 1) is None
    assert ids.read(ids.derive_secret(1, ("sk-mock-dev",)), task_id, "videos", OWNER) is None


@given(tickets, st.integers(0, 63), st.sampled_from("0123456789abcdef"))
def test_changing_any_digit_breaks_the_id(ticket: ids.Ticket, where: int, digit: str) -> None:
    task_id = ids.mint(SECRET, ticket, "audio", 7)
    changed = task_id[:where] + digit + task_id[where + 1 :]
    assert (ids.read(SECRET, changed, "audio", 7) is None) == (changed != task_id)


@pytest.mark.parametrize("text", ["", "x" * 64, " " * 64, "é" * 64, "0" * 52, "0" * 63, "0" * 65, "../../etc/passwd"])
def test_text_that_is_not_an_id_reads_as_none(text: str) -> None:
    assert ids.read(SECRET, text, "audio", 7) is None


def test_upper_case_is_another_spelling_and_not_accepted() -> None:
    task_id = ids.mint(SECRET, ids.Ticket(1, 2, 3, 4), "audio", 7)
    assert ids.read(SECRET, task_id.upper(), "audio", 7) is None or task_id == task_id.upper()
