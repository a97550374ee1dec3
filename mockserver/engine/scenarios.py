"""Per-request fates, chosen with the ``X-Mock-Scenario`` header, whatever the profile says.

| scenario | what the task does |
|---|---|
| `default` | the model's profile decides: timings, progress, failure rate, output shape |
| `success` | always succeeds |
| `fail-<reason>` | fails at the end of its run with that reason from the catalogue (`fail-content-policy`, `fail-upstream-timeout`, `fail-quota` by default) |
| `stuck` | stays `IN_PROGRESS` at 0% for ever, for testing client timeouts; with a `fail-` outcome, until `hard_timeout` seconds after submit, then fails |
| `slow` | waits `slow_queue` seconds longer in `QUEUED` (behind a concurrency limit) |
| `late-visible` | polls answer 404 `task_not_found` for the first `late_visible_for` seconds, then the task is found |
| `expire` | the task (and its links) answer 404 `expire_after` seconds after it finishes |
| `outputs` | succeeds with `data.outputs`, a list of `outputs` URLs |
| `no-progress` | shows 0% until it is done |
| `skip-states` | shows `NOT_START` and then its final state, with nothing between, as new-api does for a task it never sends upstream |
| `callback-duplicate`, `callback-out-of-order`, `callback-late`, `callback-never` | the task's callbacks (``callbacks/``) play that fault |
| `six-states`, `not-start-first`, `four-states`, `submitted-success` | the states the task shows on its way (``lifecycle.json``'s named lifecycles) |

One behaviour (`stuck` ... `skip-states`), one outcome (`success` or a `fail-` one), one callback
fault and one lifecycle can be combined, separated by commas (`four-states, fail-quota`). The seconds
are settings in the config's ``[scenarios]`` table, simulated like every other time. A fate fits in one
byte, which a signed task id carries (``ids.py``), so any worker replays it; the lifecycle travels in
the id's shape bits (``encodings.LIFECYCLE_SHIFT``), and a callback fault is kept with the callback,
in the callbacks' ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import contract
from . import encodings
from .callback_settings import FAULTS as CALLBACK_FAULTS
from .encodings import OUTCOME_BITS

BEHAVIOURS = ("default", "stuck", "slow", "late-visible", "expire", "outputs", "no-progress", "skip-states")
STUCK, SLOW, LATE, EXPIRE, OUTPUTS, NO_PROGRESS, SKIP_STATES = (1 << n for n in range(1, len(BEHAVIOURS)))
CALLBACK_NAMES = tuple(f"callback-{fault}" for fault in CALLBACK_FAULTS)  # a task's callbacks, not its fate
MAX_REASONS = (1 << encodings.OUTCOME_BITS) - encodings.FIRST_REASON  # outcomes fit in five bits (encodings.py)
LIFECYCLES = tuple(contract.lifecycle()["lifecycles"])  # named walks through the states; the first is the default


@dataclass(frozen=True)
class Settings:
    """The numbers the scenarios play with, in simulated seconds."""

    late_visible_for: float = 5.0
    expire_after: float = 60.0
    outputs: int = 4
    slow_queue: float = 600.0
    hard_timeout: float = 1800.0


@dataclass(frozen=True, slots=True)
class Choice:
    """A parsed header: a behaviour, an outcome (0: the profile decides; 1: success; 2 + i: reason i),
    a callback fault (0: the configured rates decide; 1 + i: ``CALLBACK_FAULTS[i]``) and a lifecycle
    (0: the profile's; 1 + i: ``LIFECYCLES[i]``); neither of the last two is in ``code``."""

    behaviour: int = 0
    outcome: int = 0
    callback: int = 0
    lifecycle: int = 0
    # Worked out once, as the choice is made: read on every submit, where a property was a Python call each.
    flags: int = field(init=False, repr=False, compare=False)  # the behaviour as a bit, against the constants above
    code: int = field(init=False, repr=False, compare=False)  # what an id carries: behaviour and outcome

    def __post_init__(self) -> None:
        object.__setattr__(self, "flags", encodings.flag_of(self.behaviour))
        object.__setattr__(self, "code", self.behaviour << OUTCOME_BITS | self.outcome)


DEFAULT = Choice()


def by_code(reasons: int) -> dict[int, Choice]:
    """Every choice an id can carry under a config with ``reasons`` failure reasons, by its code.

    An id signed under another config may hold a code missing here; it reads as no task at all.
    """
    every = (
        Choice(behaviour, outcome)
        for behaviour in range(len(BEHAVIOURS))
        for outcome in range(encodings.FIRST_REASON + reasons)
    )
    return {choice.code: choice for choice in every}


def names(reasons: tuple[str, ...]) -> list[str]:
    """The task fates, which a task id carries; the callback faults are ``CALLBACK_NAMES``."""
    return [*BEHAVIOURS, "success", *(f"fail-{reason}" for reason in reasons)]


def every_name(reasons: tuple[str, ...]) -> list[str]:
    """Every word a scenario may hold: fates, callback faults and lifecycles."""
    return [*names(reasons), *CALLBACK_NAMES, *LIFECYCLES]


class UnknownScenario(ValueError):
    """A scenario that names no fate of this config; its message says what is wrong and what would do."""


def parse(header: str, reasons: tuple[str, ...], field: str = "X-Mock-Scenario") -> Choice:
    """The choice a header (or ``field`` of a config or admin rule) asks for; ``UnknownScenario`` if none."""
    behaviours, outcomes, callbacks, lifecycles = [], [], [], []
    if not header.strip():  # an empty header, as a client's template sends it, is the default
        return DEFAULT
    for name in (part.strip() for part in header.split(",")):
        if name == "default":
            continue
        if name in BEHAVIOURS:
            behaviours.append(BEHAVIOURS.index(name))
        elif name == "success":
            outcomes.append(encodings.SUCCEEDS)
        elif name.startswith("fail-") and name[5:] in reasons:
            outcomes.append(encodings.outcome_of(reasons.index(name[5:])))
        elif name.startswith("callback-") and name[9:] in CALLBACK_FAULTS:
            callbacks.append(1 + CALLBACK_FAULTS.index(name[9:]))
        elif name in LIFECYCLES:
            lifecycles.append(1 + LIFECYCLES.index(name))
        else:
            raise UnknownScenario(
                f"Unknown {field} {contract.quote(name)}; use one of: {', '.join(every_name(reasons))}."
            )
    if any(len(chosen) > 1 for chosen in (behaviours, outcomes, callbacks, lifecycles)):
        raise UnknownScenario(
            f"{field} combines at most one behaviour, one outcome (success or fail-*), one callback-* fault"
            f" and one lifecycle ({', '.join(LIFECYCLES)})."
        )
    first = [chosen[0] if chosen else 0 for chosen in (behaviours, outcomes, callbacks, lifecycles)]
    return Choice(*first)
