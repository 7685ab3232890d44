"""The ``abkit serve`` configuration: a JSON file naming the experiments a service routes.

::

    {"experiments": [
        {"name": "checkout", "type": "split", "variants": ["control", "treatment"],
         "weights": [0.5, 0.5], "metric": "proportion"},
        {"name": "ranker", "type": "bandit", "arms": ["a", "b", "c"],
         "policy": "ThompsonBernoulli", "options": {"prior": [1, 1]}}
    ]}

``split`` takes the keyword arguments of :class:`abkit.adapters.FixedSplitRouter` (``variants``,
``weights``, ``metric``, ``coverage``, ``hashing``, ``seed``, ...); its counts live in the
service's store, so every worker (and every host on a Redis store) counts together. ``bandit``
takes ``arms``, ``policy`` (a class of :mod:`abkit.bandits`: ``EpsilonGreedy``, ``UCB1``,
``KLUCB``, ``ThompsonBernoulli``, ``ThompsonGaussian``), ``options`` for the policy (no
``discount``: decayed data cannot be shared as increments) and ``router`` options of
:class:`abkit.adapters.BanditRouter`: ``ttl`` (seconds a decision waits for its reward),
``refresh``, ``sync_interval`` (seconds between two exchanges of a worker's rewards with the
store, default 1), ``sync_updates`` (also exchange after this many rewards) and ``sync_fraction``
(also exchange once a worker's unshared rewards reach this share of the data; 0.02 keeps
Thompson sampling across 4 workers within a few percent of one process's regret). A bandit shares
its policy and its pending decisions through the service's store: a decision routed by one
worker is rewarded by whichever worker receives the ``record``, and every worker routes from
everyone's rewards, each seeing the others' at most ``sync_interval`` seconds late.
``canary`` takes ``checks`` (``[{"kind": "error_rate" | "latency" | "mean" | "rank", "name": ...,
"margin"?: ..., "worse"?: ...}]``, the :class:`abkit.rollout.CanaryJudge` checks), ``steps``
(traffic percentages ending at 100) and ``judge`` options (``alpha``, ``planned_looks``,
``validity``); its outcomes are objects ``{metric name: value}`` and its looks are taken by
Argo Rollouts or Flagger (see :mod:`abkit.service.app`). A canary's error-rate and mean
statistics and its rollout state (step, looks) live in the service's store, so every worker
counts together and a step decided on one reaches the others; latency and rank checks keep a
sample per worker (see :class:`abkit.adapters.CanaryRouter`). ``shadow`` takes ``live`` (the
model served) and ``shadows`` (models called alongside), as :class:`abkit.adapters.ShadowRouter`;
its outcomes are ``{"predictions": {model: score}, "latencies"?: {model: seconds}, "label"?: y}``
and each model's statistics (prediction, latency and loss) live in the store.

Examples
--------
>>> from abkit.adapters.stores import MemoryStore
>>> experiments = build_experiments({"experiments": [{"name": "e", "type": "split"}]}, MemoryStore())
>>> sorted(experiments), experiments["e"].kind
(['e'], 'split')
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from abkit._state import parse_json
from abkit.adapters import BanditRouter, CanaryRouter, FixedSplitRouter, ShadowRouter
from abkit.adapters.stores import Store
from abkit.bandits import KLUCB, UCB1, EpsilonGreedy, ThompsonBernoulli, ThompsonGaussian
from abkit.errors import StateError
from abkit.rollout import CanaryJudge, CanaryRollout

__all__ = ["EXPERIMENT_TYPES", "Experiment", "build_experiments", "load_config"]

EXPERIMENT_TYPES = ("split", "bandit", "shadow", "canary")
_POLICIES = {cls.__name__: cls for cls in (EpsilonGreedy, UCB1, KLUCB, ThompsonBernoulli, ThompsonGaussian)}
_SPLIT_KEYS = {"variants", "weights", "metric", "coverage", "hashing", "hash_version", "seed", "namespace"}
_BANDIT_KEYS = {"arms", "policy", "options", "router"}
_CANARY_KEYS = {"checks", "steps", "judge"}
_SHADOW_KEYS = {"live", "shadows"}
_CHECK_KINDS: dict[str, Callable[..., Any]] = {
    "error_rate": CanaryJudge.error_rate,
    "latency": CanaryJudge.latency,
    "mean": CanaryJudge.mean,
    "rank": CanaryJudge.rank,
}


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One served experiment: its name, type and router."""

    name: str
    kind: str
    router: FixedSplitRouter | BanditRouter | ShadowRouter | CanaryRouter


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check a configuration file (``ValueError`` naming what is wrong)."""
    try:
        document = parse_json(Path(path).read_bytes())
    except StateError as exc:
        raise ValueError(f"The configuration {os.fspath(path)!r} is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ValueError(
            f'The configuration must be a JSON object {{"experiments": [...]}}; got '
            f"{type(document).__name__}."
        )
    return document


def build_experiments(config: Mapping[str, Any], store: Store) -> dict[str, Experiment]:
    """The experiments of ``config``, their counts kept in ``store``."""
    if not isinstance(config, Mapping) or set(config) != {"experiments"}:
        raise ValueError(
            f'The configuration must be an object with one key "experiments"; got '
            f"{sorted(config) if isinstance(config, Mapping) else type(config).__name__}."
        )
    entries = config["experiments"]
    if not isinstance(entries, list) or not entries:
        raise ValueError("`experiments` must be a non-empty list of objects.")
    experiments: dict[str, Experiment] = {}
    for position, entry in enumerate(entries):
        where = f"experiments[{position}]"
        if not isinstance(entry, dict):
            raise ValueError(f"`{where}` must be an object; got {json.dumps(entry)[:80]}.")
        name, kind = entry.get("name"), entry.get("type")
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"`{where}.name` must be a non-empty string without '/'; got {name!r}.")
        if name in experiments:
            raise ValueError(f"`{where}.name` {name!r} is used twice.")
        if kind not in EXPERIMENT_TYPES:
            raise ValueError(
                f"`{where}.type` must be one of {', '.join(map(repr, EXPERIMENT_TYPES))}; got {kind!r}."
            )
        options = {k: v for k, v in entry.items() if k not in ("name", "type")}
        try:
            router = (
                _split(name, options, store)
                if kind == "split"
                else _bandit(name, options, store)
                if kind == "bandit"
                else _shadow(name, options, store)
                if kind == "shadow"
                else _canary(name, options, store)
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"`{where}` ({name!r}): {exc}") from None
        experiments[name] = Experiment(name=name, kind=kind, router=router)
    return experiments


def _unknown(options: Mapping[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(options) - allowed)
    if extra:
        raise ValueError(f"unknown options {extra}; allowed: {sorted(allowed)}.")


def _split(name: str, options: dict[str, Any], store: Store) -> FixedSplitRouter:
    _unknown(options, _SPLIT_KEYS)
    return FixedSplitRouter(name, store=store, **options)


def _bandit(name: str, options: dict[str, Any], store: Store) -> BanditRouter:
    _unknown(options, _BANDIT_KEYS)
    arms = options.get("arms")
    if not isinstance(arms, list) or not arms:
        raise ValueError(f"`arms` must be a non-empty list of names; got {arms!r}.")
    policy_name = options.get("policy", "ThompsonBernoulli")
    if policy_name not in _POLICIES:
        raise ValueError(f"`policy` must be one of {sorted(_POLICIES)}; got {policy_name!r}.")
    policy_options = options.get("options", {})
    router_options = options.get("router", {})
    if not isinstance(policy_options, dict) or not isinstance(router_options, dict):
        raise ValueError("`options` and `router` must be objects.")
    _unknown(router_options, {"ttl", "refresh", "sync_interval", "sync_updates", "sync_fraction"})
    policy = _POLICIES[policy_name](len(arms), **policy_options)
    return BanditRouter(name, policy, arms, store=store, **router_options)


def _shadow(name: str, options: dict[str, Any], store: Store) -> ShadowRouter:
    _unknown(options, _SHADOW_KEYS)
    if "live" not in options or "shadows" not in options:
        raise ValueError("a shadow experiment needs `live` (a model name) and `shadows` (a list of names).")
    return ShadowRouter(options["live"], options["shadows"], experiment=name, store=store)


def _canary(name: str, options: dict[str, Any], store: Store) -> CanaryRouter:
    _unknown(options, _CANARY_KEYS)
    checks = options.get("checks")
    if not isinstance(checks, list) or not checks:
        raise ValueError(f"`checks` must be a non-empty list of objects; got {checks!r}.")
    built = []
    for i, check in enumerate(checks):
        if not isinstance(check, dict) or check.get("kind") not in _CHECK_KINDS:
            raise ValueError(f"`checks[{i}].kind` must be one of {sorted(_CHECK_KINDS)}; got {check!r}.")
        arguments = {k: v for k, v in check.items() if k != "kind"}
        built.append(_CHECK_KINDS[check["kind"]](**arguments))
    judge_options = options.get("judge", {})
    if not isinstance(judge_options, dict):
        raise ValueError("`judge` must be an object.")
    _unknown(judge_options, {"alpha", "planned_looks", "validity", "tuning_n", "spending"})
    judge = CanaryJudge(built, **judge_options)
    rollout = CanaryRollout(judge, steps=options.get("steps", (1, 5, 25, 50, 100)))
    return CanaryRouter(rollout, experiment=name, store=store)
