"""The contract, clause by clause.

    pytest --pyargs contract_tests --contract-url URL --contract-key KEY [options]

Valid probes are planned and paid for once per run (see ``kit.py``); every other test here
sends only requests a conforming server refuses, so they cost nothing on a server that conforms.
"""

from __future__ import annotations

import dataclasses
import time
from functools import partial

import pytest

from contract_tests import answer_checks, checks, equivalents, inputs, lifecycle_checks, runner, strategies, task_paths
from contract_tests.checks import Expect
from contract_tests.findings import FAIL, Finding, Verdicts
from contract_tests.kit import Kit


def _auth_failures(kit: Kit) -> list[tuple[str, dict[str, str], str]]:
    return [
        ("no Authorization header", {}, checks.AUTH),
        ("a malformed Authorization header", {"Authorization": "Token sk-not-a-bearer-token"}, checks.MALFORMED_AUTH),
        ("a bearer scheme with no key", {"Authorization": "Bearer"}, checks.MALFORMED_AUTH),
        ("a wrong key", {"Authorization": f"Bearer sk-wrong-{kit.token('wrong key')}"}, checks.WRONG_KEY),
    ]


def _near_misses(key: str) -> list[tuple[str, dict[str, str], str]]:
    """The real key with something added, and with its last character changed: a prefix match is no match."""
    changed = key[:-1] + ("x" if key[-1:] != "x" else "y")
    return [
        ("the key with a suffix", {"Authorization": f"Bearer {key}x"}, checks.WRONG_KEY),
        ("the key with its last character changed", {"Authorization": f"Bearer {changed}"}, checks.WRONG_KEY),
    ]


def _accepted_ids(kit: Kit, scope: str) -> list[str]:
    return [p.task_id for p in kit.probes(scope) if p.task_id]


def test_accepts_valid_requests(contract_kit: Kit, contract_scope: str) -> None:
    """Valid bodies of every variety get a task_id: a plain one must be, richer ones should be."""
    verdicts = Verdicts()
    sent = [p for p in contract_kit.probes(contract_scope) if p.exchange is not None]
    if not sent:
        pytest.skip("the budget left nothing for this scope")
    for probe in sent:
        assert probe.exchange is not None  # sent: it has its exchange
        contract_kit.judge(probe.exchange, probe.expect, verdicts)
    contract_kit.settle(verdicts)


def test_rejects_invalid_requests(contract_kit: Kit, contract_scope: str) -> None:
    """Bodies the spec forbids get a 4xx with a JSON body: never a task, never a 5xx.

    Every known breakage of the plain body, then generated ones; sent several at once, since
    each costs nothing on a conforming server, and judged in that order.
    """
    kit = contract_kit
    kit.probes(contract_scope)  # the paid probes have the first claim on the budget
    model = kit.model(contract_scope)
    cases = strategies.invalid_examples(model) + kit.sample(strategies.invalid_requests(model), kit.options.examples)
    verdicts = Verdicts()
    for (reason, _), exchange in zip(cases, kit.post_many(contract_scope, [body for _, body in cases])):
        if exchange is not None:
            kit.judge(exchange, Expect(checks.REJECT, reason), verdicts)
    kit.settle(verdicts)


def test_field_classes(contract_kit: Kit, contract_scope: str) -> None:
    """Every value class of every field (``inputs``), sent beside a missing required field: a 4xx, never a 5xx.

    Free on a conforming server, which must refuse the body whatever the value; a server that reads a
    field before it validates the body (and falls over on an empty list, a zero, a long string) shows it.
    """
    kit = contract_kit
    kit.probes(contract_scope)  # the paid probes have the first claim on the budget
    probes = inputs.free_probes(kit.model(contract_scope))
    verdicts = Verdicts()
    for (value, why, _), exchange in zip(probes, kit.post_many(contract_scope, [body for _, _, body in probes])):
        if exchange is not None:
            kit.free.append((value, exchange))
            kit.judge(exchange, Expect(checks.REJECT, why), verdicts)
    kit.settle(verdicts)


def test_requires_auth(contract_kit: Kit, contract_scope: str) -> None:
    """No key, a malformed header or a wrong key gets 401 from both endpoints."""
    kit = contract_kit
    task_id = next(iter(_accepted_ids(kit, contract_scope)), kit.token("no task"))
    body = strategies.plain_request(kit.model(contract_scope))
    verdicts = Verdicts()
    variants = [*_auth_failures(kit), *_near_misses(kit.target.key)]
    reads = kit.gather(
        *(partial(runner.read, scope=contract_scope, task_id=task_id, headers=h) for _, h, _ in variants)
    )
    for (why, _, kind), get in zip(variants, reads):
        kit.judge(get, Expect(kind, f"GET with {why}"), verdicts)
    for why, headers, kind in variants:  # one by one: a server that ignores keys would create a paid task each
        post = kit.post(contract_scope, body, headers=headers)
        if post is not None:
            kit.judge(post, Expect(kind, f"POST with {why}"), verdicts)
        if verdicts.of("fail"):
            break
    kit.settle(verdicts)


def test_unknown_task(contract_kit: Kit, contract_scope: str) -> None:
    """A task id nobody created gets a 4xx (404 expected), never 200 or 5xx.

    Then the path is fuzzed: ids long, empty, odd in every way a router or a database meets, and a
    known task's id with something after it; any 4xx will do for those, never a 5xx or a task.
    """
    kit = contract_kit
    verdicts = Verdicts()
    ids = (kit.token("unknown task"), f"unknown:{kit.token('unknown task, prefixed').replace('-', '')}")
    for exchange in kit.gather(*(partial(runner.read, scope=contract_scope, task_id=i) for i in ids)):
        kit.judge(exchange, Expect(checks.UNKNOWN, "an unknown task id"), verdicts)
    odd = task_paths.odd_ids(next(iter(_accepted_ids(kit, contract_scope)), None))
    for (why, _), exchange in zip(odd, kit.call(runner.read_many, contract_scope, [i for _, i in odd])):
        kit.judge(exchange, Expect(checks.ODD_ID, why), verdicts)
    kit.settle(verdicts)


def test_null_optional_fields(contract_kit: Kit) -> None:
    """Every optional field null: the spec does not say, our reading refuses it (accepting it only warns).

    Sent once a run, not once a scope: a server reading null as absent makes it a paid task.
    """
    kit = contract_kit
    scope = kit.options.scopes[0]
    kit.probes(scope)
    exchange = kit.post(scope, strategies.null_optionals(kit.model(scope)))
    if exchange is None:
        pytest.skip("no budget left for this probe")
    verdicts = Verdicts()
    kit.judge(exchange, Expect(checks.READING_BODY, "every optional field null"), verdicts)
    kit.settle(verdicts)


def test_auth_scheme_any_case(contract_kit: Kit, contract_scope: str) -> None:
    """A known task read with ``bearer`` in lower case: HTTP's schemes are case-insensitive."""
    kit = contract_kit
    task_id = next(iter(_accepted_ids(kit, contract_scope)), None)
    if task_id is None:
        pytest.skip("no task of this scope was accepted")
    exchange = kit.get(contract_scope, task_id, headers={"Authorization": f"bearer {kit.target.key}"})
    verdicts = Verdicts()
    _tally(verdicts, "auth_scheme_case", [f for f in [checks.auth_scheme_case(exchange)] if f])
    kit.settle(verdicts)


def test_unknown_scope(contract_kit: Kit) -> None:
    """A scope outside the spec's three gets a 4xx (404 expected) on both endpoints."""
    kit = contract_kit
    scope = kit.options.scopes[0]
    kit.probes(scope)
    verdicts = Verdicts()
    post = kit.post("not-a-scope", strategies.plain_request(kit.model(scope)))
    get = kit.get("not-a-scope", kit.token("unknown scope"))
    for exchange in (post, get):
        if exchange is not None:
            kit.judge(exchange, Expect(checks.UNKNOWN, "an unknown scope"), verdicts)
    kit.settle(verdicts)


def test_submit_content_type(contract_kit: Kit) -> None:
    """A submit sent as text/plain: our reading says 415; accepting it is only a warning."""
    kit = contract_kit
    scope = kit.options.scopes[0]
    kit.probes(scope)
    exchange = kit.post(scope, strategies.plain_request(kit.model(scope)), content_type="text/plain")
    if exchange is None:
        pytest.skip("no budget left for this probe")
    verdicts = Verdicts()
    kit.judge(exchange, Expect(checks.READING, "a JSON body sent as text/plain"), verdicts)
    kit.settle(verdicts)


def _walks(kit: Kit, scope: str) -> list[runner.Walk]:
    walks = [p.walk for p in kit.walked(scope) if p.walk is not None]
    if not walks:
        pytest.fail("no task of this scope was accepted, so no lifecycle could be followed", pytrace=False)
    return walks


def test_lifecycle(contract_kit: Kit, contract_scope: str) -> None:
    """Each accepted task, polled to its end: states, progress, timestamps, id, result, timeout."""
    verdicts = Verdicts()
    for walk in _walks(contract_kit, contract_scope):
        lifecycle_checks.run(walk, verdicts, skip={"outputs_download"})
    contract_kit.settle(verdicts)


def test_outputs_download(contract_kit: Kit, contract_scope: str) -> None:
    """Every output URL of a successful task downloads as the scope's kind of media."""
    walks = [w for w in _walks(contract_kit, contract_scope) if lifecycle_checks.outputs_of(w)]
    if not walks:
        pytest.skip("no task of this scope succeeded, so there were no outputs to fetch")
    verdicts = Verdicts()
    for walk in walks:
        lifecycle_checks.run(walk, verdicts, only={"outputs_download"})
    contract_kit.settle(verdicts)


def test_isolation(contract_kit: Kit, contract_scope: str) -> None:
    """A second key never sees the first key's tasks: not while they run, not once finished, not via any scope."""
    kit = contract_kit
    if not kit.options.second_key:
        pytest.skip("give --contract-second-key to check isolation")
    probes = [p for p in kit.walked(contract_scope) if p.task_id]
    if not probes:
        pytest.skip("no task of this scope was accepted")
    reads = [read for p in probes if p.walk for read in p.walk.foreign]
    later = (
        partial(runner.foreign_reads, scope=contract_scope, task_id=str(p.task_id), when="once finished")
        for p in probes
    )
    reads += [read for reads_of_one in kit.gather(*later) for read in reads_of_one]
    if all(exchange.status in (401, 403) for _, exchange in reads):
        pytest.skip("the second key is refused outright (401/403), so isolation cannot be told apart from it")
    verdicts = Verdicts()
    for why, exchange in reads:
        kit.judge(exchange, Expect(checks.FOREIGN, why), verdicts)
    kit.settle(verdicts)


def test_finished_tasks_stay_finished(contract_kit: Kit, contract_scope: str) -> None:
    """Read once more at the end of the run, every finished task still says what it said."""
    kit = contract_kit
    walks = [w for w in _walks(kit, contract_scope) if w.outcome == "finished"]
    if not walks:
        pytest.skip("no task of this scope finished")
    verdicts = Verdicts()
    answers = kit.gather(*(partial(runner.reread, scope=contract_scope, task_id=w.task_id) for w in walks))
    for walk, exchange in zip(walks, answers):
        task = exchange.json() if exchange.status == 200 else None
        if not isinstance(task, dict):
            verdicts.add(Finding("terminal_holds", FAIL, "a finished task could not be read later", (exchange,)))
            continue
        later = dataclasses.replace(walk, polls=[*walk.polls, runner.Poll(time.time(), exchange, task)])
        lifecycle_checks.run(later, verdicts, only={"terminal_holds", "task_schema", "timestamps_stay"})
    kit.settle(verdicts)


def test_equivalent_requests(contract_kit: Kit, contract_scope: str) -> None:
    """Near-equivalent spellings of refused requests (``equivalents``) are refused too, never served or a 5xx.

    A known task read without a key, and with the second key (a wrong one without it); an unknown id read
    with the owner's key; a submit without a key. Free: a conforming server refuses each.
    """
    kit = contract_kit
    known = next(iter(_accepted_ids(kit, contract_scope)), None)
    other = kit.options.second_key or f"sk-wrong-{kit.token('wrong key')}"
    others = {"no key": None, "the second key" if kit.options.second_key else "a wrong key": other}
    cases = (
        [] if known is None else [(s, "another key's task") for s in equivalents.reads(contract_scope, known, others)]
    )
    unknown = kit.token("unknown task")
    cases += [
        (s, "a task nobody created")
        for s in equivalents.reads(contract_scope, unknown, {"the owner's key": kit.target.key})
    ]
    reads = kit.gather(*(partial(runner.send_spelled, spelling=s) for s, _ in cases))
    verdicts = Verdicts()
    for (spelling, shows), exchange in zip(cases, reads):
        _tally(verdicts, "equivalent_requests", [f for f in [equivalents.judge(spelling, exchange, shows)] if f])
    body = strategies.plain_request(kit.model(contract_scope))
    for spelling in equivalents.submits(contract_scope):  # one by one: each a paid task on a server that takes it
        exchange = kit.call(runner.submit, contract_scope, body, headers=spelling.headers, path=spelling.path)
        if exchange is not None:
            _tally(verdicts, "equivalent_requests", [f for f in [equivalents.judge(spelling, exchange, "a task")] if f])
    kit.settle(verdicts)


def test_every_answer(contract_kit: Kit) -> None:
    """Every answer of the run so far, to any request: strict JSON, headers that match the body, whole
    media, no secret given back, and answered in time (``answer_checks``)."""
    kit = contract_kit
    for scope in kit.options.scopes:
        kit.walked(scope)
    verdicts = Verdicts()
    answer_checks.run(list(kit.target.seen), kit.secrets(), verdicts)
    kit.settle(verdicts)


def test_task_ids_distinct(contract_kit: Kit) -> None:
    """Every submit the run got accepted, in any scope and in the same second, has an id of its own.

    Last in the file, so that it sees every submit of the run, refusal probes a server took among them.
    """
    verdicts = Verdicts()
    _tally(verdicts, "task_ids_distinct", checks.task_ids_distinct(contract_kit.target.accepted))
    contract_kit.settle(verdicts)


def _tally(verdicts: Verdicts, check: str, found: list[Finding]) -> None:
    for finding in found:
        verdicts.add(finding)
    if not found:
        verdicts.passed(check)
