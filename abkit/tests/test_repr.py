"""Stateful objects print their configuration and a state summary; intervals serialise strictly."""

from __future__ import annotations

import json
import math

import pytest

from abkit import ConfidenceInterval, ProportionStats
from abkit.adapters import BanditRouter, FixedSplitRouter, ShadowRouter
from abkit.bandits import ThompsonBernoulli
from abkit.rollout import BlueGreen, CanaryJudge, CanaryRollout, Recreate, RollingUpdate
from abkit.sequential import MSPRT, SPRT
from abkit.shadow import ShadowMonitor


def _objects() -> list[tuple[object, list[str]]]:
    fixed = FixedSplitRouter("exp")
    fixed.record("u1", 1)
    bandit = BanditRouter("h", ThompsonBernoulli(2, rng=0), rng=1)
    bandit.route("x")
    judge = CanaryJudge([CanaryJudge.error_rate("e")], planned_looks=3)
    msprt = MSPRT(tau2=1e-4)
    msprt.update(ProportionStats(100, 1000), ProportionStats(130, 1000))
    return [
        (fixed, ["experiment='exp'", "n={'control': 1, 'treatment': 0}", "excluded=0"]),
        (ShadowRouter("a", ["b"]), ["live='a'", "shadows=['b']", "rows=0"]),
        (bandit, ["policy='ThompsonBernoulli'", "pending=1", "n_updates=0"]),
        (CanaryRollout(judge, steps=(5, 100)), ["steps=[5.0, 100.0]", "phase='running'", "look=0"]),
        (BlueGreen(judge), ["phase='validating'", "watch_passes=0"]),
        (RollingUpdate(judge, n_instances=4, batch_size=2), ["n_instances=4", "phase='updating'"]),
        (Recreate(judge), ["phase='old_running'"]),
        (msprt, ["tau2=0.0001", "looks=1", "n=(1000, 1000)", "reject=False"]),
        (SPRT(0.01, 0.1), ["p0=0.01", "p1=0.1", "log_a=2.772589"]),
        (ShadowMonitor("a", ["b"], ["accuracy"]), ["champion='a'", "looks=0"]),
    ]


@pytest.mark.parametrize(("obj", "parts"), _objects(), ids=lambda v: type(v).__name__)
def test_repr_shows_configuration_and_state(obj: object, parts: list[str]) -> None:
    text = repr(obj)
    assert text.startswith(f"{type(obj).__name__}(") and "object at 0x" not in text
    for part in parts:
        assert part in text
    table = obj._repr_html_()  # type: ignore[attr-defined]
    assert table.startswith("<table>") and f"<b>{type(obj).__name__}</b>" in table


def test_interval_to_dict_is_strict_json_and_reads_back() -> None:
    for low, high in [(0.1, 0.3), (-math.inf, 0.2), (0.2, math.inf), (math.nan, math.nan)]:
        text = json.dumps(ConfidenceInterval(low, high).to_dict(), allow_nan=False)
        back = json.loads(text)
        restored = ConfidenceInterval(float(back["low"]), float(back["high"]))
        assert restored == ConfidenceInterval(low, high) or (math.isnan(low) and math.isnan(restored.low))
    assert ConfidenceInterval(-math.inf, 1.0).to_dict() == {"low": "-inf", "high": 1.0}
