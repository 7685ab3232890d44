"""Rollout controllers: canary ramp, blue-green, rolling update and recreate.

Each controller is a small state machine driven by a :class:`~abkit.rollout.CanaryJudge`. Its
state is plain JSON (``to_json`` / ``from_json``; never pickle) with an event log, so a
controller can stop and resume in another process. A state that is corrupt or does not fit the
controller raises :class:`abkit.errors.StateError` and changes nothing; so does bad data given to
a step (the judge validates before anything moves). ``look`` counts the judge's looks across the
whole rollout, so the chance of a false rollback over a whole rollout is at most the judge's
``alpha``: always-valid judges need no limit (``planned_looks=None`` lets a step be held as long
as it takes), spending judges test each look at its share of ``alpha``.

- :class:`CanaryRollout`: a ramp of traffic percentages, each held until the judge says
  ``"pass"``; ``"rollback"`` sends all traffic back at once. A canary not yet promoted after the
  last planned look (if the judge has a limit) is rolled back: it could not be shown safe at
  every step.
- :class:`BlueGreen`: validate green before the switch, watch it after; a failure after the
  switch switches back at once.
- :class:`RollingUpdate`: replace instances in batches, a health gate per batch, and roll back
  in batches of ``rollback_batch_size``.
- :class:`Recreate`: stop the old version, start the new, validate; each recreation costs
  ``stop_seconds + start_seconds`` of downtime, and so does going back.

Examples
--------
>>> import numpy as np
>>> from abkit.rollout import CanaryJudge, CanaryRollout
>>> judge = CanaryJudge([CanaryJudge.error_rate("errors", margin=0.02)], planned_looks=4)
>>> rollout = CanaryRollout(judge, steps=(10, 50, 100))
>>> rng = np.random.default_rng(1)
>>> while rollout.status == "running":
...     _ = rollout.observe({"errors": rng.random(3000) < 0.01}, {"errors": rng.random(3000) < 0.01})
>>> rollout.status, rollout.traffic_share
('promoted', 1.0)
>>> CanaryRollout.from_json(rollout.to_json(), judge).status
'promoted'
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from abkit._results import object_html, object_repr
from abkit._state import dump_state, envelope_from_document, parse_json
from abkit._validation import check_int, check_nonnegative, check_real, check_string
from abkit.errors import StateError
from abkit.rollout.judge import CanaryJudge, CanaryVerdict

__all__ = ["BlueGreen", "CanaryRollout", "Recreate", "RollingUpdate"]

STATE_VERSION = 2
"""Version 2: the envelope of :mod:`abkit._state` (``state`` holds phase, look, fields and events).
Version 1 had the same fields at the top level beside ``kind``, ``version`` and ``config``; it is
still read."""


def _num(value: float) -> float | None:
    """A number for the event log: ``None`` for NaN or infinity (strict JSON carries neither)."""
    return float(value) if math.isfinite(value) else None


def _check_at(at: Any) -> float | None:
    """The optional event timestamp, checked before a step changes anything."""
    return None if at is None else check_real("at", at)


def _verdict_event(verdict: CanaryVerdict) -> dict[str, Any]:
    return {
        "look": verdict.look,
        "decision": verdict.decision,
        "reasons": list(verdict.reasons),
        "alpha_look": verdict.alpha_look,
        "metrics": [
            {"name": m.name, "kind": m.kind, "decision": m.decision, "effect": _num(m.effect),
             "low": _num(m.ci.low), "high": _num(m.ci.high), "margin": m.margin, "worse": m.worse,
             "n_baseline": m.n_baseline, "n_canary": m.n_canary}
            for m in verdict.metrics
        ],
    }


def _state_error(kind: str, message: str) -> StateError:
    return StateError(f"Invalid {kind} state: {message}")


class _Controller:
    """Shared machinery: the judge, the look counter, the event log, JSON state and a lock."""

    KIND: ClassVar[str] = ""
    PHASES: ClassVar[tuple[str, ...]] = ()
    FINAL: ClassVar[tuple[str, ...]] = ()

    def __init__(self, judge: CanaryJudge) -> None:
        if not isinstance(judge, CanaryJudge):
            raise TypeError(f"`judge` must be a CanaryJudge; got {type(judge).__name__}.")
        self.judge = judge
        self.look = 0
        self.phase = self.PHASES[0]
        self.events: list[dict[str, Any]] = []
        self._lock = threading.RLock()

    # -- state -------------------------------------------------------------------------------
    def _config(self) -> dict[str, Any]:
        raise NotImplementedError

    def _fields(self) -> dict[str, Any]:
        return {}

    def to_dict(self) -> dict[str, Any]:
        """The state envelope as a JSON-safe dict: ``config``, and phase, look, fields, events."""
        return dict(json.loads(self.to_json()))

    def to_json(self) -> str:
        """The state envelope (:mod:`abkit._state`) as JSON text (``from_json`` restores it)."""
        with self._lock:
            state = {"phase": self.phase, "look": self.look, **self._fields(), "events": self.events}
            return dump_state(self.KIND, STATE_VERSION, self._config(), state)

    @classmethod
    def _from_config(cls, judge: CanaryJudge, config: Mapping[str, Any]) -> _Controller:
        raise NotImplementedError

    def _load_fields(self, state: Mapping[str, Any]) -> dict[str, Any]:
        return {}

    @classmethod
    def from_json(cls, text: str | bytes, judge: CanaryJudge) -> Any:
        """Rebuild a controller from ``to_json`` output; a corrupt state raises ``StateError``."""
        document = parse_json(text)
        if isinstance(document, dict) and document.get("version") == 1 and "state" not in document:
            rest = {k: v for k, v in document.items() if k not in ("kind", "version", "config")}
            document = {key: document.get(key) for key in ("kind", "version", "config")} | {"state": rest}
        envelope = envelope_from_document(document, cls.KIND, versions=(1, STATE_VERSION))
        state = {"config": envelope.config, **envelope.state}
        try:
            controller = cls._from_config(judge, state["config"])
            phase, look, events = state["phase"], state["look"], state["events"]
            if phase not in cls.PHASES:
                raise ValueError(f"phase must be one of {list(cls.PHASES)}; got {phase!r}")
            look = check_int("look", look)
            if judge.planned_looks is not None and look > judge.planned_looks:
                raise ValueError(f"look {look} exceeds the judge's planned_looks ({judge.planned_looks})")
            if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
                raise ValueError("events must be a list of objects")
            fields = controller._load_fields(state)
        except StateError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise _state_error(cls.KIND, f"{exc}.") from exc
        controller.phase, controller.look, controller.events = phase, look, events
        for name, value in fields.items():
            setattr(controller, name, value)
        return controller

    def _repr_items(self) -> list[tuple[str, Any]]:
        with self._lock:
            return [*self._config().items(), ("phase", self.phase), ("look", self.look),
                    *self._fields().items(), ("events", len(self.events))]

    def __repr__(self) -> str:
        return object_repr(self.KIND, self._repr_items())

    def _repr_html_(self) -> str:
        return object_html(self.KIND, self._repr_items())

    # -- steps -------------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        """Whether the controller reached a final phase."""
        return self.phase in self.FINAL

    def _require(self, *phases: str) -> None:
        if self.phase not in phases:
            raise ValueError(f"This step needs phase {' or '.join(repr(p) for p in phases)}; the "
                             f"{self.KIND} is in phase {self.phase!r}.")

    def _log(self, event: str, at: float | None, **fields: Any) -> None:
        """Append an event; ``at`` was checked by :func:`_check_at` before anything moved."""
        entry: dict[str, Any] = {"event": event, "phase": self.phase}
        if at is not None:
            entry["at"] = at
        entry.update(fields)
        self.events.append(entry)

    def _judge(self, baseline: Mapping[str, Any], candidate: Mapping[str, Any],
               names: tuple[str, str]) -> tuple[CanaryVerdict, bool]:
        """Judge the next look (validating everything before any state moves).

        ``names`` are the caller's argument names for the two arms (``blue``/``green``, ...).
        """
        for name, data in zip(names, (baseline, candidate), strict=True):
            if not isinstance(data, Mapping):
                raise TypeError(
                    f"`{name}` must be a mapping of metric name to data; got {type(data).__name__}.")
        planned = self.judge.planned_looks
        if planned is not None and self.look >= planned:
            raise ValueError(f"All {planned} planned looks are used.")
        verdict = self.judge.judge(baseline, candidate, look=self.look + 1)
        self.look += 1
        return verdict, self.look == planned


class CanaryRollout(_Controller):
    """A canary ramp: traffic percentages held until the judge passes each one.

    Parameters
    ----------
    judge
        The canary judge (its ``planned_looks``, unless ``None``, bound the number of looks).
    steps
        Increasing percentages of traffic for the canary, ending at 100 (promotion).

    Examples
    --------
    >>> judge = CanaryJudge([CanaryJudge.error_rate("errors")], planned_looks=3)
    >>> CanaryRollout(judge, steps=(1, 5, 100)).traffic_share
    0.01
    """

    KIND = "CanaryRollout"
    PHASES = ("running", "promoted", "rolled_back")
    FINAL = ("promoted", "rolled_back")

    def __init__(self, judge: CanaryJudge, steps: Sequence[float] = (1, 5, 25, 50, 100)) -> None:
        super().__init__(judge)
        self.steps = self._check_steps(steps)
        self.step_index = 0
        self._log("start", None, share=self.traffic_share)

    @staticmethod
    def _check_steps(steps: Any) -> tuple[float, ...]:
        if isinstance(steps, str) or not isinstance(steps, Sequence) or len(steps) < 1:
            raise TypeError(f"`steps` must be a non-empty list of percentages; got {steps!r}.")
        values = tuple(check_real(f"steps[{i}]", s) for i, s in enumerate(steps))
        for i in range(1, len(values)):
            if values[i] <= values[i - 1]:
                raise ValueError(f"`steps` must be strictly increasing; got {list(values)} "
                                 f"(step {i} is {values[i]:g} after {values[i - 1]:g}).")
        if values[0] <= 0.0 or values[-1] != 100.0:
            raise ValueError(f"`steps` must lie in (0, 100] and end at 100; got {list(values)}.")
        return values

    @property
    def status(self) -> str:
        """``"running"``, ``"promoted"`` or ``"rolled_back"``."""
        return self.phase

    @property
    def traffic_share(self) -> float:
        """The canary's share of traffic now (0 after a rollback, 1 after promotion)."""
        if self.phase == "rolled_back":
            return 0.0
        if self.phase == "promoted":
            return 1.0
        return self.steps[self.step_index] / 100.0

    def _config(self) -> dict[str, Any]:
        return {"steps": list(self.steps)}

    def _fields(self) -> dict[str, Any]:
        return {"step_index": self.step_index}

    @classmethod
    def _from_config(cls, judge: CanaryJudge, config: Mapping[str, Any]) -> CanaryRollout:
        return cls(judge, steps=config["steps"])

    def _load_fields(self, state: Mapping[str, Any]) -> dict[str, Any]:
        index = check_int("step_index", state["step_index"])
        if index >= len(self.steps):
            raise ValueError(f"step_index {index} is beyond the {len(self.steps)} steps")
        if state["phase"] == "promoted" and index != len(self.steps) - 1:
            raise ValueError("a promoted rollout must be at its last step")
        return {"step_index": index}

    def observe(self, baseline: Mapping[str, Any], canary: Mapping[str, Any], *,
                at: float | None = None) -> CanaryVerdict:
        """Judge the data of the current step and move: next step, promotion, hold or rollback.

        ``baseline`` and ``canary`` are as for :meth:`CanaryJudge.judge` (usually cumulative
        since the start of the rollout). ``at`` is an optional timestamp for the event log.
        """
        at = _check_at(at)
        with self._lock:
            self._require("running")
            verdict, last = self._judge(baseline, canary, ("baseline", "canary"))
            share = self.traffic_share
            note = ""
            if verdict.decision == "pass" and self.step_index + 2 >= len(self.steps):
                self.step_index = len(self.steps) - 1
                self.phase = "promoted"
            elif verdict.decision == "rollback":
                self.phase = "rolled_back"
            elif last:
                self.phase = "rolled_back"
                note = "planned looks used up before the canary was shown safe at every step"
            elif verdict.decision == "pass":
                self.step_index += 1
            self._log("look", at, share=share, new_share=self.traffic_share, note=note,
                      **_verdict_event(verdict))
            return verdict

    def abort(self, reason: str = "manual rollback", *, at: float | None = None) -> None:
        """Roll back now (an operator's decision)."""
        at = _check_at(at)
        reason = check_string("reason", reason)
        with self._lock:
            self._require("running")
            self.phase = "rolled_back"
            self._log("abort", at, reason=reason, new_share=0.0)


class BlueGreen(_Controller):
    """Blue-green: validate green, switch all traffic, watch, and switch back on a failure.

    Parameters
    ----------
    judge
        Judges green against blue (before the switch: green's test traffic against blue; after
        it: green's live metrics against blue's from before the switch).
    watch_looks
        Passing looks needed after the switch before blue may be retired.

    Examples
    --------
    >>> bg = BlueGreen(CanaryJudge([CanaryJudge.error_rate("errors")], planned_looks=4))
    >>> bg.live, bg.phase
    ('blue', 'validating')
    """

    KIND = "BlueGreen"
    PHASES = ("validating", "watching", "done", "aborted", "switched_back")
    FINAL = ("done", "aborted", "switched_back")

    def __init__(self, judge: CanaryJudge, *, watch_looks: int = 1) -> None:
        super().__init__(judge)
        self.watch_looks = check_int("watch_looks", watch_looks, minimum=1)
        self.watch_passes = 0
        self._log("start", None, live="blue")

    @property
    def live(self) -> str:
        """Which colour serves traffic: ``"blue"`` or ``"green"``."""
        return "green" if self.phase in ("watching", "done") else "blue"

    def _config(self) -> dict[str, Any]:
        return {"watch_looks": self.watch_looks}

    def _fields(self) -> dict[str, Any]:
        return {"watch_passes": self.watch_passes}

    @classmethod
    def _from_config(cls, judge: CanaryJudge, config: Mapping[str, Any]) -> BlueGreen:
        return cls(judge, watch_looks=config["watch_looks"])

    def _load_fields(self, state: Mapping[str, Any]) -> dict[str, Any]:
        passes = check_int("watch_passes", state["watch_passes"])
        if passes > self.watch_looks:
            raise ValueError(f"watch_passes {passes} exceeds watch_looks {self.watch_looks}")
        return {"watch_passes": passes}

    def validate(self, blue: Mapping[str, Any], green: Mapping[str, Any], *,
                 at: float | None = None) -> CanaryVerdict:
        """Before the switch: pass switches traffic to green; rollback (or no proof of safety by
        the last look) aborts with blue still live."""
        at = _check_at(at)
        with self._lock:
            self._require("validating")
            verdict, last = self._judge(blue, green, ("blue", "green"))
            note = ""
            if verdict.decision == "pass":
                self.phase = "done" if last else "watching"
                note = "switched with no planned look left to watch" if last else ""
            elif verdict.decision == "rollback" or last:
                self.phase = "aborted"
            self._log("validate", at, live=self.live, note=note, **_verdict_event(verdict))
            return verdict

    def watch(self, blue: Mapping[str, Any], green: Mapping[str, Any], *,
              at: float | None = None) -> CanaryVerdict:
        """After the switch: rollback switches back to blue at once; ``watch_looks`` passes (or
        the last look without harm) finish the deployment."""
        at = _check_at(at)
        with self._lock:
            self._require("watching")
            verdict, last = self._judge(blue, green, ("blue", "green"))
            if verdict.decision == "rollback":
                self.phase = "switched_back"
            else:
                self.watch_passes += verdict.decision == "pass"
                if self.watch_passes >= self.watch_looks or last:
                    self.phase = "done"
            self._log("watch", at, live=self.live, **_verdict_event(verdict))
            return verdict


class RollingUpdate(_Controller):
    """Replace ``n_instances`` in batches, each passing a health gate; roll back in batches.

    The first batch is replaced at creation. :meth:`observe` gates the newest batch: a pass
    replaces the next batch (or finishes), a rollback starts rolling back, and
    :meth:`rollback_step` then restores ``rollback_batch_size`` old instances per call.

    Examples
    --------
    >>> ru = RollingUpdate(CanaryJudge([CanaryJudge.error_rate("errors")], planned_looks=5),
    ...                    n_instances=10, batch_size=3, rollback_batch_size=5)
    >>> ru.updated, ru.new_share
    (3, 0.3)
    """

    KIND = "RollingUpdate"
    PHASES = ("updating", "rolling_back", "done", "rolled_back")
    FINAL = ("done", "rolled_back")

    def __init__(self, judge: CanaryJudge, *, n_instances: int, batch_size: int,
                 rollback_batch_size: int | None = None) -> None:
        super().__init__(judge)
        self.n_instances = check_int("n_instances", n_instances, minimum=1)
        self.batch_size = check_int("batch_size", batch_size, minimum=1)
        if self.batch_size > self.n_instances:
            raise ValueError(
                f"`batch_size` must be at most n_instances ({self.n_instances}); got {batch_size}.")
        size = self.n_instances if rollback_batch_size is None else rollback_batch_size
        self.rollback_batch_size = check_int("rollback_batch_size", size, minimum=1)
        self.updated = self.batch_size
        self._log("start", None, updated=self.updated)

    @property
    def new_share(self) -> float:
        """Share of instances running the new version."""
        return self.updated / self.n_instances

    def _config(self) -> dict[str, Any]:
        return {"n_instances": self.n_instances, "batch_size": self.batch_size,
                "rollback_batch_size": self.rollback_batch_size}

    def _fields(self) -> dict[str, Any]:
        return {"updated": self.updated}

    @classmethod
    def _from_config(cls, judge: CanaryJudge, config: Mapping[str, Any]) -> RollingUpdate:
        return cls(judge, n_instances=config["n_instances"], batch_size=config["batch_size"],
                   rollback_batch_size=config["rollback_batch_size"])

    def _load_fields(self, state: Mapping[str, Any]) -> dict[str, Any]:
        updated = check_int("updated", state["updated"])
        if updated > self.n_instances:
            raise ValueError(f"updated {updated} exceeds n_instances {self.n_instances}")
        if (state["phase"] == "rolled_back") != (updated == 0):
            raise ValueError(f"updated {updated} does not fit phase {state['phase']!r}")
        return {"updated": updated}

    def observe(self, old: Mapping[str, Any], new: Mapping[str, Any], *,
                at: float | None = None) -> CanaryVerdict:
        """The health gate of the newest batch (new instances judged against old ones); at the
        last planned look anything short of finishing starts the rollback."""
        at = _check_at(at)
        with self._lock:
            self._require("updating")
            verdict, last = self._judge(old, new, ("old", "new"))
            if verdict.decision == "pass" and self.updated == self.n_instances:
                self.phase = "done"
            elif verdict.decision == "rollback" or last:
                self.phase = "rolling_back"
            elif verdict.decision == "pass":
                self.updated = min(self.updated + self.batch_size, self.n_instances)
            self._log("gate", at, updated=self.updated, **_verdict_event(verdict))
            return verdict

    def rollback_step(self, *, at: float | None = None) -> int:
        """Restore the next ``rollback_batch_size`` old instances; returns how many new remain."""
        at = _check_at(at)
        with self._lock:
            self._require("rolling_back")
            self.updated = max(self.updated - self.rollback_batch_size, 0)
            if self.updated == 0:
                self.phase = "rolled_back"
            self._log("rollback_batch", at, updated=self.updated)
            return self.updated


class Recreate(_Controller):
    """Stop the old version, start the new one, validate it; downtime is counted.

    With no overlap the baseline is the old version's metrics from before the switch. Each
    recreation (to the new version, and back on a failure) costs ``stop_seconds +
    start_seconds`` of downtime.

    Examples
    --------
    >>> rc = Recreate(CanaryJudge([CanaryJudge.error_rate("errors")], planned_looks=2),
    ...               stop_seconds=10, start_seconds=50)
    >>> rc.recreate(); rc.downtime_seconds
    60.0
    """

    KIND = "Recreate"
    PHASES = ("old_running", "validating", "done", "rolled_back")
    FINAL = ("done", "rolled_back")

    def __init__(self, judge: CanaryJudge, *, stop_seconds: float = 30.0,
                 start_seconds: float = 60.0) -> None:
        super().__init__(judge)
        self.stop_seconds = check_nonnegative("stop_seconds", stop_seconds)
        self.start_seconds = check_nonnegative("start_seconds", start_seconds)
        self.downtime_seconds = 0.0
        self._log("start", None, downtime_seconds=0.0)

    def _config(self) -> dict[str, Any]:
        return {"stop_seconds": self.stop_seconds, "start_seconds": self.start_seconds}

    def _fields(self) -> dict[str, Any]:
        return {"downtime_seconds": self.downtime_seconds}

    @classmethod
    def _from_config(cls, judge: CanaryJudge, config: Mapping[str, Any]) -> Recreate:
        return cls(judge, stop_seconds=config["stop_seconds"], start_seconds=config["start_seconds"])

    def _load_fields(self, state: Mapping[str, Any]) -> dict[str, Any]:
        return {"downtime_seconds": check_nonnegative("downtime_seconds", state["downtime_seconds"])}

    def recreate(self, *, at: float | None = None) -> None:
        """Stop old, start new (downtime ``stop_seconds + start_seconds``)."""
        at = _check_at(at)
        with self._lock:
            self._require("old_running")
            self.downtime_seconds += self.stop_seconds + self.start_seconds
            self.phase = "validating"
            self._log("recreate", at, downtime_seconds=self.downtime_seconds)

    def validate(self, old: Mapping[str, Any], new: Mapping[str, Any], *,
                 at: float | None = None) -> CanaryVerdict:
        """Judge the new version; a rollback (or no proof of safety by the last look) recreates
        the old one, with its downtime."""
        at = _check_at(at)
        with self._lock:
            self._require("validating")
            verdict, last = self._judge(old, new, ("old", "new"))
            if verdict.decision == "pass":
                self.phase = "done"
            elif verdict.decision == "rollback" or last:
                self.phase = "rolled_back"
                self.downtime_seconds += self.stop_seconds + self.start_seconds
            self._log("validate", at, downtime_seconds=self.downtime_seconds, **_verdict_event(verdict))
            return verdict
