"""Every older state format still loads, and equals the object that wrote it.

The files in ``state_formats/`` were written by abkit before the one envelope (see the README
there); each is loaded with today's code, written back in the envelope, and the two are compared
field by field, so nothing recorded is lost in the upgrade.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from abkit.adapters import BanditRouter, FixedSplitRouter, ShadowRouter
from abkit.bandits import KLUCB, UCB1, BasePolicy, EpsilonGreedy, ThompsonBernoulli, ThompsonGaussian
from abkit.rollout import BlueGreen, CanaryJudge, CanaryRollout, Recreate, RollingUpdate
from abkit.sequential import MSPRT
from abkit.shadow import ShadowMonitor

FOLDER = Path(__file__).parent / "state_formats"


def _old(name: str) -> dict[str, Any]:
    return dict(json.loads((FOLDER / f"{name}.json").read_text()))


def _judge() -> CanaryJudge:
    return CanaryJudge([CanaryJudge.error_rate("errors", margin=0.02)], planned_looks=4)


@pytest.mark.parametrize("cls", [FixedSplitRouter, ShadowRouter, BanditRouter])
def test_routers_read_format_1(cls: Any) -> None:
    old = _old(f"{cls.__name__}_v1")
    router = cls.from_json(json.dumps(old))
    new = json.loads(router.to_json())
    assert (new["kind"], new["version"]) == (cls.__name__, 2)
    if cls is BanditRouter:  # the router's state holds its policy's state, now an envelope too
        policy = new["state"].pop("policy")
        old_policy = old["state"].pop("policy")
        assert BasePolicy.from_json(json.dumps(old_policy)).to_json() == json.dumps(policy)
    assert (new["config"], new["state"]) == (old["config"], old["state"])


@pytest.mark.parametrize("cls", [ThompsonBernoulli, ThompsonGaussian, UCB1, KLUCB, EpsilonGreedy])
def test_policies_read_version_1(cls: Any) -> None:
    old = _old(f"{cls.__name__}_v1")
    policy = BasePolicy.from_json(json.dumps(old))
    assert type(policy) is cls
    new = json.loads(policy.to_json())
    assert (new["kind"], new["version"]) == (cls.__name__, 2)
    flat = {"policy": new["kind"], **new["config"], **new["state"]}
    assert flat == {k: v for k, v in old.items() if k not in ("format", "version")}


@pytest.mark.parametrize("cls", [CanaryRollout, BlueGreen, RollingUpdate, Recreate])
def test_controllers_read_version_1(cls: Any) -> None:
    old = _old(f"{cls.__name__}_v1")
    controller = cls.from_json(json.dumps(old), _judge())
    new = controller.to_dict()
    assert (new["kind"], new["version"]) == (cls.__name__, 2)
    assert new["config"] == old["config"]
    assert new["state"] == {k: v for k, v in old.items() if k not in ("kind", "version", "config")}


def test_shadow_monitor_reads_format_1() -> None:
    old = _old("ShadowMonitor_v1")
    new = ShadowMonitor.from_json(json.dumps(old)).to_dict()
    assert (new["kind"], new["version"]) == ("ShadowMonitor", 2)
    assert {**new["config"], **new["state"]} == {k: v for k, v in old.items() if k not in ("kind", "format")}


def test_msprt_reads_the_flat_dict_of_0_1() -> None:
    old = _old("MSPRT_v0")
    test = MSPRT.from_dict(old)
    new = test.to_dict()
    assert (new["kind"], new["version"]) == ("MSPRT", 1)
    flat = {**new["config"], **new["state"]}
    assert flat.pop("stats") == old.pop("kind")
    assert flat == old
    assert MSPRT.from_json(test.to_json()).to_dict() == new


def test_msprt_before_any_look_writes_strict_json() -> None:
    fresh = MSPRT(tau2=1e-3)
    document = json.loads(fresh.to_json())
    assert document["state"]["ci"] == [None, None]
    restored = MSPRT.from_json(fresh.to_json())
    assert (restored.ci.low, restored.ci.high, restored.looks) == (float("-inf"), float("inf"), 0)
