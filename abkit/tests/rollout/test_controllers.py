"""Rollout controllers: transitions, JSON state, bad input."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from abkit import ProportionStats
from abkit.errors import StateError
from abkit.rollout import (
    BlueGreen,
    CanaryJudge,
    CanaryRollout,
    Recreate,
    RollingUpdate,
)

GOOD = ({"e": ProportionStats(100, 10_000)}, {"e": ProportionStats(98, 10_000)})   # pass
BAD = ({"e": ProportionStats(100, 10_000)}, {"e": ProportionStats(200, 10_000)})   # rollback
UNSURE = ({"e": ProportionStats(10, 300)}, {"e": ProportionStats(12, 300)})        # inconclusive


def _judge(looks: int = 6) -> CanaryJudge:
    return CanaryJudge([CanaryJudge.error_rate("e", margin=0.01)], planned_looks=looks)


def test_the_fixtures_mean_what_they_say() -> None:
    judge = _judge()
    assert [judge.judge(*d).decision for d in (GOOD, BAD, UNSURE)] == ["pass", "rollback", "inconclusive"]


def test_canary_ramp_holds_advances_and_promotes() -> None:
    rollout = CanaryRollout(_judge(), steps=(1, 5, 25, 50, 100))
    shares = [rollout.traffic_share]
    for data in (GOOD, UNSURE, GOOD, GOOD, GOOD):
        rollout.observe(*data)
        shares.append(rollout.traffic_share)
    assert shares == [0.01, 0.05, 0.05, 0.25, 0.5, 1.0]
    assert rollout.status == "promoted" and rollout.finished
    assert [e["decision"] for e in rollout.events if e["event"] == "look"] == \
        ["pass", "inconclusive", "pass", "pass", "pass"]
    with pytest.raises(ValueError, match="needs phase 'running'; the CanaryRollout is in phase 'promoted'"):
        rollout.observe(*GOOD)


def test_canary_rolls_back_automatically() -> None:
    rollout = CanaryRollout(_judge(), steps=(5, 50, 100))
    rollout.observe(*GOOD)
    verdict = rollout.observe(*BAD)
    assert verdict.decision == "rollback"
    assert rollout.status == "rolled_back" and rollout.traffic_share == 0.0
    assert rollout.events[-1]["new_share"] == 0.0 and rollout.events[-1]["share"] == 0.5


def test_canary_not_shown_safe_by_the_last_look_is_rolled_back() -> None:
    rollout = CanaryRollout(_judge(looks=2), steps=(5, 100))
    rollout.observe(*UNSURE)
    rollout.observe(*UNSURE)
    assert rollout.status == "rolled_back"
    assert "planned looks used up" in rollout.events[-1]["note"]


def test_steps_must_increase_and_end_at_100() -> None:
    with pytest.raises(ValueError,
                       match=r"`steps` must be strictly increasing; got \[1.0, 25.0, 5.0, 100.0\]"):
        CanaryRollout(_judge(), steps=(1, 25, 5, 100))
    with pytest.raises(ValueError, match="`steps` must be strictly increasing"):
        CanaryRollout(_judge(), steps=(5, 5, 100))
    with pytest.raises(ValueError, match=r"`steps` must lie in \(0, 100\] and end at 100"):
        CanaryRollout(_judge(), steps=(1, 50))
    with pytest.raises(TypeError, match="`judge` must be a CanaryJudge"):
        CanaryRollout("judge", steps=(1, 100))  # type: ignore[arg-type]


def test_bad_data_changes_nothing() -> None:
    rollout = CanaryRollout(_judge(), steps=(5, 50, 100))
    rollout.observe(*GOOD)
    before = rollout.to_json()
    with pytest.raises(ValueError, match=r"`canary\['e'\]` must not contain NaN"):
        rollout.observe({"e": [0.0, 1.0]}, {"e": [np.nan, 1.0]})
    with pytest.raises(ValueError, match="must have data for metric 'e'"):
        rollout.observe({"e": [0.0, 1.0]}, {"errors": [0.0]})
    assert rollout.to_json() == before


def test_json_round_trip_and_resume() -> None:
    judge = _judge()
    rollout = CanaryRollout(judge, steps=(1, 10, 100))
    rollout.observe(*GOOD, at=60.0)
    restored = CanaryRollout.from_json(rollout.to_json(), judge)
    assert restored.to_dict() == rollout.to_dict()
    restored.observe(*GOOD)
    assert restored.status == "promoted" and restored.look == 2
    assert rollout.events[-1]["at"] == 60.0


def _with_state(text: str, **changes: Any) -> str:
    document = json.loads(text)
    document["state"].update(changes)
    return json.dumps(document)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda s: "{not json", "not valid JSON"),
        (lambda s: json.dumps([1, 2]), "must be an object with keys"),
        (lambda s: json.dumps({**json.loads(s), "kind": "BlueGreen"}), "not a 'CanaryRollout' state"),
        (lambda s: _with_state(s, phase="flying"), "phase must be one of"),
        (lambda s: _with_state(s, step_index=7), "step_index 7 is beyond the 3 steps"),
        (lambda s: _with_state(s, look=99), "exceeds the judge's planned_looks"),
        (lambda s: json.dumps({**json.loads(s), "config": {"steps": [50, 10, 100]}}), "strictly increasing"),
        (lambda s: _with_state(s, events=None), "events must be a list"),
        (lambda s: _with_state(s, look="two"), "`look` must be an integer"),
    ],
)
def test_corrupt_state_raises_state_error(mutate: Any, message: str) -> None:
    judge = _judge()
    rollout = CanaryRollout(judge, steps=(1, 10, 100))
    rollout.observe(*GOOD)
    with pytest.raises(StateError, match=message):
        CanaryRollout.from_json(mutate(rollout.to_json()), judge)


def test_blue_green_switches_and_switches_back() -> None:
    bg = BlueGreen(_judge(), watch_looks=2)
    bg.validate(*UNSURE)
    assert bg.live == "blue" and bg.phase == "validating"
    bg.validate(*GOOD)
    assert bg.live == "green" and bg.phase == "watching"
    bg.watch(*GOOD)
    bg.watch(*BAD)
    assert bg.phase == "switched_back" and bg.live == "blue"
    done = BlueGreen(_judge(), watch_looks=1)
    done.validate(*GOOD)
    done.watch(*GOOD)
    assert done.phase == "done" and done.live == "green"
    aborted = BlueGreen(_judge())
    aborted.validate(*BAD)
    assert aborted.phase == "aborted" and aborted.live == "blue"
    assert BlueGreen.from_json(bg.to_json(), _judge()).to_dict() == bg.to_dict()
    with pytest.raises(ValueError, match="`watch_looks` must be at least 1"):
        BlueGreen(_judge(), watch_looks=0)


def test_rolling_update_batches_and_rolls_back_in_batches() -> None:
    ru = RollingUpdate(_judge(), n_instances=10, batch_size=4, rollback_batch_size=3)
    assert ru.updated == 4
    ru.observe(*GOOD)
    assert ru.updated == 8
    ru.observe(*BAD)
    assert ru.phase == "rolling_back"
    assert [ru.rollback_step(), ru.rollback_step(), ru.rollback_step()] == [5, 2, 0]
    assert ru.phase == "rolled_back" and ru.new_share == 0.0
    full = RollingUpdate(_judge(), n_instances=5, batch_size=3)
    full.observe(*GOOD)
    assert full.updated == 5 and full.phase == "updating"  # the last batch still needs its gate
    full.observe(*GOOD)
    assert full.phase == "done"
    with pytest.raises(ValueError, match=r"`batch_size` must be at most n_instances \(5\); got 6"):
        RollingUpdate(_judge(), n_instances=5, batch_size=6)
    state = json.loads(ru.to_json())
    state["state"]["updated"] = 3  # rolled back but still running new instances: inconsistent
    with pytest.raises(StateError, match="does not fit phase 'rolled_back'"):
        RollingUpdate.from_json(json.dumps(state), _judge())


def test_recreate_counts_downtime() -> None:
    rc = Recreate(_judge(), stop_seconds=20, start_seconds=40)
    with pytest.raises(ValueError, match="needs phase 'validating'"):
        rc.validate(*GOOD)
    rc.recreate()
    rc.validate(*BAD)
    assert rc.phase == "rolled_back" and rc.downtime_seconds == 120.0
    ok = Recreate(_judge(), stop_seconds=20, start_seconds=40)
    ok.recreate()
    ok.validate(*GOOD)
    assert ok.phase == "done" and ok.downtime_seconds == 60.0
    assert Recreate.from_json(ok.to_json(), _judge()).downtime_seconds == 60.0
    with pytest.raises(ValueError, match="`stop_seconds` must be at least 0"):
        Recreate(_judge(), stop_seconds=-1)


def test_unlimited_looks_with_an_always_valid_judge() -> None:
    judge = CanaryJudge([CanaryJudge.error_rate("e", margin=0.01)], planned_looks=None)
    rollout = CanaryRollout(judge, steps=(5, 100))
    for _ in range(30):
        rollout.observe(*UNSURE)
    assert rollout.status == "running" and rollout.look == 30
    copy = CanaryRollout.from_json(rollout.to_json(), judge)
    assert copy.look == 30 and copy.to_dict() == rollout.to_dict()
    copy.observe(*GOOD)
    assert copy.status == "promoted"


@given(st.lists(st.sampled_from(["good", "bad", "unsure"]), min_size=1, max_size=6),
       st.integers(0, 5))
def test_json_round_trip_at_any_point_continues_identically(moves: list[str], cut: int) -> None:
    data = {"good": GOOD, "bad": BAD, "unsure": UNSURE}
    judge = _judge()
    original = CanaryRollout(judge, steps=(1, 5, 25, 100))
    copy: CanaryRollout | None = None
    for i, move in enumerate(moves):
        if i == cut:
            copy = CanaryRollout.from_json(original.to_json(), judge)
        for rollout in (original, copy):
            if rollout is not None and rollout.status == "running":
                rollout.observe(*data[move])
    if copy is not None:
        assert copy.to_dict() == original.to_dict()


# --- a failed call changes nothing (issue 14: faults) --------------------------------------------

def _at_running(kind: str) -> Any:
    """A controller in the phase where the method under test may run."""
    if kind == "canary":
        return CanaryRollout(_judge(), steps=(10, 50, 100))
    if kind == "bg_validate":
        return BlueGreen(_judge(), watch_looks=2)
    if kind == "bg_watch":
        bg = BlueGreen(_judge(), watch_looks=2)
        bg.validate(*GOOD)
        return bg
    if kind == "rolling":
        return RollingUpdate(_judge(), n_instances=10, batch_size=3, rollback_batch_size=2)
    if kind == "rolling_back":
        ru = RollingUpdate(_judge(), n_instances=10, batch_size=3, rollback_batch_size=2)
        ru.observe(*BAD)
        return ru
    if kind == "recreate":
        return Recreate(_judge(), stop_seconds=10, start_seconds=50)
    rc = Recreate(_judge(), stop_seconds=10, start_seconds=50)
    rc.recreate()
    return rc


CONTROLLER_STEPS: list[tuple[str, str, Any]] = [
    ("canary", "observe", lambda c, **kw: c.observe(*GOOD, **kw)),
    ("canary", "abort", lambda c, **kw: c.abort("operator", **kw)),
    ("bg_validate", "validate", lambda c, **kw: c.validate(*GOOD, **kw)),
    ("bg_watch", "watch", lambda c, **kw: c.watch(*BAD, **kw)),
    ("rolling", "observe", lambda c, **kw: c.observe(*GOOD, **kw)),
    ("rolling_back", "rollback_step", lambda c, **kw: c.rollback_step(**kw)),
    ("recreate", "recreate", lambda c, **kw: c.recreate(**kw)),
    ("validate", "validate", lambda c, **kw: c.validate(*BAD, **kw)),
]


@pytest.mark.parametrize(("kind", "method", "call"), CONTROLLER_STEPS, ids=[f"{k}-{m}" for k, m, _ in CONTROLLER_STEPS])
@pytest.mark.parametrize(
    ("at", "error", "message"),
    [
        (float("nan"), ValueError, "`at` must be finite; got nan."),
        (float("inf"), ValueError, "`at` must be finite; got inf."),
        ("noon", TypeError, "`at` must be a real number; got 'noon'."),
        (True, TypeError, "`at` must be a real number; got True."),
    ],
)
def test_a_bad_timestamp_changes_nothing(kind: str, method: str, call: Any, at: Any, error: type,
                                         message: str) -> None:
    controller = _at_running(kind)
    before = controller.to_json()
    with pytest.raises(error, match=message.replace(".", r"\.").replace("(", r"\(")):
        call(controller, at=at)
    assert controller.to_json() == before
    call(controller, at=12.5)  # the same call with a good timestamp still works
    assert controller.events[-1]["at"] == 12.5


@pytest.mark.parametrize(("kind", "method", "call"), [s for s in CONTROLLER_STEPS if s[1] in ("observe", "validate", "watch")],
                         ids=[f"{k}-{m}" for k, m, _ in CONTROLLER_STEPS if m in ("observe", "validate", "watch")])
def test_bad_data_for_a_look_changes_nothing(kind: str, method: str, call: Any) -> None:
    controller = _at_running(kind)
    before = controller.to_json()
    step = getattr(controller, method)
    with pytest.raises((TypeError, ValueError)):
        step({"e": "not data"}, {"e": [1, 0, 1]})
    with pytest.raises((TypeError, ValueError)):
        step({"e": ProportionStats(1, 10)}, {"missing": ProportionStats(1, 10)})
    assert controller.to_json() == before


def test_abort_reason_must_be_text_and_a_failed_abort_changes_nothing() -> None:
    rollout = CanaryRollout(_judge(), steps=(10, 50, 100))
    before = rollout.to_json()
    with pytest.raises(TypeError, match=r"`reason` must be a string; got int 7\."):
        rollout.abort(7)  # type: ignore[arg-type]
    assert rollout.to_json() == before


def test_means_out_of_floating_point_range_are_inconclusive_and_the_state_stays_readable() -> None:
    # The log ratio 1e10 / 1e-300 and the coefficients of variation overflow a float: the judge
    # says so (it used to raise ZeroDivisionError) and the event log stays strict JSON.
    judge = CanaryJudge([CanaryJudge.mean("m", margin=0.1)], planned_looks=3)
    rollout = CanaryRollout(judge, steps=(10, 100))
    from abkit import MeanStats

    verdict = rollout.observe({"m": MeanStats(n=100, mean=1e-300, var=1.0)},
                              {"m": MeanStats(n=100, mean=1e10, var=1.0)})
    assert verdict.decision == "inconclusive"
    assert verdict.reasons == ("m: the ratio of means or its standard error is out of floating-point range",)
    assert CanaryRollout.from_json(rollout.to_json(), judge).to_dict() == rollout.to_dict()


@pytest.mark.parametrize("cls", [CanaryRollout, BlueGreen, RollingUpdate, Recreate])
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested deeper than"),
        ('{"kind": NaN}', "holds NaN"),
        (b"\xff\xfe", "not UTF-8"),
        (None, "must be JSON text"),
    ],
)
def test_deep_or_malformed_json_is_a_state_error(cls: Any, text: Any, message: str) -> None:
    with pytest.raises(StateError, match=message):
        cls.from_json(text, _judge())
