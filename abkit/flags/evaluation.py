"""GrowthBook experiments and features, evaluated as GrowthBook's SDKs do.

:func:`run_experiment` is GrowthBook's ``run`` and :func:`evaluate_feature` its ``evalFeature``;
both agree with GrowthBook's SDK conformance suite (spec 0.8.0: every ``run``, ``feature``,
``stickyBucket`` and ``contextualBandit`` case). They take GrowthBook's JSON (an experiment, or
the ``features`` payload of the GrowthBook API) and the unit's attributes, and return frozen
results whose ``to_dict()`` is GrowthBook's JSON shape.

An experiment assigns a unit by hashing its ``hash_attribute`` (``"id"`` by default; a string or
a finite non-zero number) with the experiment's ``seed`` (its key by default) and hash version
(1 unless given, as in GrowthBook); the unit is out (``in_experiment`` false, the first
variation's value) when it lacks the attribute, fails the ``condition`` or a prerequisite
(``parent_conditions``), falls outside the ``namespace`` or ``filters`` (filters replace the
namespace), or outside ``coverage``/``ranges``. A forced variation (``forced_variations`` or a
``?key=1`` query string in ``url``) wins over everything; ``force`` on the experiment wins for
units inside it; ``qa_mode`` keeps everyone out unless forced.

A feature walks its rules in order: a *force rule* serves its value to the units that pass its
condition, filters and rollout (``coverage`` or ``range`` of a hash); an *experiment rule* serves
the unit's variation (skipped when the unit is out, or its variation is a ``passthrough``);
``parentConditions`` on a rule require other features' values (a failing ``gate`` turns the
feature off); contextual-bandit rules route by the first matching leaf's weights. Otherwise the
feature's ``defaultValue`` is served.

*Sticky bucketing*: pass ``sticky_buckets``, the unit's assignment documents (a mutable mapping
``"attribute||value" -> {"attributeName", "attributeValue", "assignments"}`` loaded from your
store); a unit keeps its variation while ``bucketVersion`` stays, experiments may fall back to
``fallbackAttribute``, and new assignments are written into the mapping for you to save.

Not supported: tracking callbacks (and a force rule's ``tracks``), the deprecated ``url``,
``groups``, ``include`` and ``status`` targeting of experiments, ``decrypt`` and URL redirects.

Examples
--------
>>> features = {"new-ranker": {"defaultValue": False, "rules": [
...     {"condition": {"country": "NZ"}, "force": True},
...     {"key": "ranker-test", "variations": [False, True], "hashVersion": 2}]}}
>>> evaluate_feature("new-ranker", features, {"id": "u1", "country": "NZ"}).source
'force'
>>> result = evaluate_feature("new-ranker", features, {"id": "u2", "country": "AU"})
>>> result.source, result.value, result.experiment_result.variation_id
('experiment', True, 1)
>>> run_experiment({"key": "my-test", "variations": [0, 1]}, {"id": "1"}).value
1
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlparse

from abkit._results import Result
from abkit._validation import check_bool, check_int, check_string
from abkit.assignment import bucket_ranges, choose_variation, gb_hash, in_namespace
from abkit.flags.compiled import compile_condition, freeze, uses_saved_groups
from abkit.flags.conditions import evaluate_condition, js_string

__all__ = [
    "Assignment",
    "ExperimentSpec",
    "FeatureResult",
    "evaluate_feature",
    "query_string_override",
    "run_experiment",
]

FALLBACK_LEAF = -1  # leafId reported when a contextual bandit serves its marginal weights

# ExperimentSpec fields and GrowthBook's JSON names for them.
_JSON_NAMES = {
    "key": "key", "variations": "variations", "weights": "weights", "coverage": "coverage",
    "condition": "condition", "namespace": "namespace", "force": "force",
    "hash_attribute": "hashAttribute", "fallback_attribute": "fallbackAttribute",
    "hash_version": "hashVersion", "ranges": "ranges", "meta": "meta", "filters": "filters",
    "seed": "seed", "name": "name", "phase": "phase", "active": "active",
    "parent_conditions": "parentConditions", "bucket_version": "bucketVersion",
    "min_bucket_version": "minBucketVersion", "disable_sticky_bucketing": "disableStickyBucketing",
    "contextual_bandit": "contextualBandit",
}
_DEFAULTS = {"active": True, "disable_sticky_bucketing": False}


class _SpecCache(dict[str, Any]):
    """An ExperimentSpec's compiled condition and bucket ranges; copies and pickles empty."""

    __slots__ = ()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_SpecCache, ())


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ExperimentSpec:
    """A GrowthBook experiment (an inline experiment, or one built from a feature's rule).

    Fields are GrowthBook's, in snake case; :meth:`from_dict` reads GrowthBook's JSON (camel
    case, unknown keys ignored) and :meth:`to_dict` writes the fields that are set. ``None`` means
    GrowthBook's default: ``hash_attribute`` ``"id"``, ``hash_version`` 1, ``coverage`` 1, equal
    ``weights``, ``seed`` the key, bucket versions 0.

    Examples
    --------
    >>> ExperimentSpec.from_dict({"key": "t", "variations": [0, 1], "hashVersion": 2, "foo": 1}).to_dict()
    {'key': 't', 'variations': [0, 1], 'hashVersion': 2}
    """

    key: str
    variations: list[Any]
    weights: list[float] | None = None
    coverage: float | None = None
    condition: Mapping[str, Any] | None = None
    namespace: Sequence[Any] | None = None
    force: int | None = None
    hash_attribute: str | None = None
    fallback_attribute: str | None = None
    hash_version: int | None = None
    ranges: list[Sequence[float]] | None = None
    meta: list[Mapping[str, Any]] | None = None
    filters: list[Mapping[str, Any]] | None = None
    seed: str | None = None
    name: str | None = None
    phase: str | None = None
    active: bool = True
    parent_conditions: list[Mapping[str, Any]] | None = None
    bucket_version: int | None = None
    min_bucket_version: int | None = None
    disable_sticky_bucketing: bool = False
    contextual_bandit: Mapping[str, Any] | None = None
    # Its condition compiled and its bucket ranges, filled by its first run (None: not cached).
    _cache: _SpecCache | None = dataclasses.field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_string("key", self.key)
        if isinstance(self.variations, str | bytes | Mapping) or not isinstance(self.variations, Sequence):
            raise TypeError(f"`variations` must be a list of values; got {self.variations!r}.")
        object.__setattr__(self, "variations", list(self.variations))
        # The spec owns what its cache depends on: later changes to the caller's data do not reach it.
        if self.condition is not None:
            object.__setattr__(self, "condition", freeze(self.condition))
        if type(self.weights) is list:
            object.__setattr__(self, "weights", list(self.weights))
        object.__setattr__(self, "_cache", _SpecCache())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExperimentSpec:
        """An experiment from GrowthBook's JSON (camel-case keys; unknown keys are ignored)."""
        return _spec_from_json(cls, "data", data)

    def to_dict(self) -> dict[str, Any]:
        """GrowthBook's JSON: the fields that differ from their defaults, in camel case."""
        out = {}
        for field, name in _JSON_NAMES.items():
            value = getattr(self, field)
            if value is not None and value != _DEFAULTS.get(field):
                out[name] = value
        return out


def _spec_from_json(cls: type[ExperimentSpec], name: str, data: Any, *,
                    borrow: bool = False) -> ExperimentSpec:
    """:meth:`ExperimentSpec.from_dict`, its errors naming the argument ``name``.

    ``borrow``: a spec for one call, which uses ``data``'s condition as it is (not copied, and
    not compiled: nothing is cached on it).
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"`{name}` must be a mapping or an ExperimentSpec; got {data!r}.")
    if "key" not in data or "variations" not in data:
        raise ValueError(f"`{name}` must have a key and variations; got {sorted(map(str, data))}.")
    skip = "condition" if borrow else None
    spec = cls(**{field: data[key] for field, key in _JSON_NAMES.items() if key in data and field != skip})
    if borrow:
        object.__setattr__(spec, "condition", data.get("condition"))
        object.__setattr__(spec, "_cache", None)
    return spec


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Assignment(Result):
    """The variation a unit gets, and why (GrowthBook's experiment ``Result``).

    ``in_experiment`` is false when the unit is out (it gets variation 0's value; do not count
    it); ``hash_used`` is false when the variation was forced; ``bucket`` is the unit's hash in
    ``[0, 1)`` when it was hashed; ``key``, ``name`` and ``passthrough`` come from the variation's
    ``meta`` (``key`` defaults to the index as a string).
    """

    variation_id: int
    in_experiment: bool
    value: Any
    hash_used: bool
    hash_attribute: str
    hash_value: Any
    feature_id: str | None = None
    key: str = ""
    name: str = ""
    passthrough: bool = False
    bucket: float | None = None
    sticky_bucket_used: bool = False
    leaf_id: int | None = None
    variation_weights: list[float] | None = None
    bandit_version: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """GrowthBook's JSON shape (optional keys only when set)."""
        out = {"featureId": self.feature_id, "variationId": self.variation_id,
               "inExperiment": self.in_experiment, "value": self.value, "hashUsed": self.hash_used,
               "hashAttribute": self.hash_attribute, "hashValue": self.hash_value, "key": self.key,
               "stickyBucketUsed": self.sticky_bucket_used}
        optional = {"bucket": self.bucket, "name": self.name or None,
                    "passthrough": self.passthrough or None, "leafId": self.leaf_id,
                    "variationWeights": self.variation_weights, "banditVersion": self.bandit_version}
        out.update({k: v for k, v in optional.items() if v is not None})
        return out


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class FeatureResult(Result):
    """A feature's value for a unit, and where it came from (GrowthBook's ``FeatureResult``).

    ``source`` is one of ``"unknownFeature"``, ``"defaultValue"``, ``"force"``, ``"experiment"``,
    ``"prerequisite"`` (a gating prerequisite failed) or ``"cyclicPrerequisite"``. ``on`` is the
    value's JavaScript truthiness (``None``, ``False``, ``0``, NaN and ``""`` are off).
    """

    value: Any
    source: str
    rule_id: str = ""
    experiment: ExperimentSpec | None = None
    experiment_result: Assignment | None = None

    @property
    def on(self) -> bool:
        """Whether the value is truthy in JavaScript's sense (an empty list or mapping is on)."""
        v = self.value
        if v is None or v is False or v == "":
            return False
        if isinstance(v, int | float) and not isinstance(v, bool):
            return v != 0 and not math.isnan(v)
        return True

    @property
    def off(self) -> bool:
        """``not on``."""
        return not self.on

    def to_dict(self) -> dict[str, Any]:
        """GrowthBook's JSON shape."""
        out = {"value": self.value, "on": self.on, "off": self.off, "source": self.source,
               "ruleId": self.rule_id}
        if self.experiment is not None:
            out["experiment"] = self.experiment.to_dict()
        if self.experiment_result is not None:
            out["experimentResult"] = self.experiment_result.to_dict()
        return out


def query_string_override(key: str, url: str, n_variations: int) -> int | None:
    """The variation forced by ``?key=i`` in ``url``, or ``None`` (GrowthBook's ``getQueryStringOverride``).

    Examples
    --------
    >>> query_string_override("my-test", "http://example.com?foo=bar&my-test=1#x", 2)
    1
    >>> query_string_override("my-test", "http://example.com?my-test=2", 2) is None
    True
    """
    check_string("key", key)
    check_string("url", url)
    n_variations = check_int("n_variations", n_variations)
    try:
        query = urlparse(url).query
    except ValueError:
        return None
    values = parse_qs(query).get(key) if query else None
    if not values or not (values[0].isascii() and values[0].isdigit()) or len(values[0]) > 9:
        return None
    variation = int(values[0])
    return variation if variation < n_variations else None


@dataclasses.dataclass(slots=True)
class _Context:
    # One evaluation: the unit and the payload, plus the stack of features being evaluated.
    attributes: Mapping[str, Any]
    features: Mapping[str, Any]
    saved_groups: Mapping[str, Any]
    forced_variations: Mapping[str, Any]
    url: str
    qa_mode: bool
    enabled: bool
    sticky_buckets: MutableMapping[str, Any] | None
    contextual_bandits: Mapping[str, Any]
    stack: set[str] = dataclasses.field(default_factory=set)
    # A FeatureSet's precompiled payload: id(condition) -> compiled condition, id(rule) -> spec.
    conditions: Mapping[int, Callable[..., bool]] = dataclasses.field(default_factory=dict)
    experiments: Mapping[int, ExperimentSpec] = dataclasses.field(default_factory=dict)

    def matches(self, condition: Mapping[str, Any] | None,
                attributes: Mapping[str, Any] | None = None) -> bool:
        if not condition:
            return True
        compiled = self.conditions.get(id(condition))
        if compiled is not None:
            return compiled(self.attributes if attributes is None else attributes)
        return evaluate_condition(condition, self.attributes if attributes is None else attributes,
                                  self.saved_groups)

    def spec_matches(self, experiment: ExperimentSpec) -> bool:
        # An experiment's own condition, compiled once on the spec (without saved groups: a
        # condition that uses them is interpreted whenever groups are given).
        condition, cache = experiment.condition, experiment._cache
        if not condition or cache is None:
            return self.matches(condition)
        entry = cache.get("condition")
        if entry is None:
            entry = (compile_condition(condition), uses_saved_groups(condition))
            cache["condition"] = entry
        compiled, grouped = entry
        if grouped and self.saved_groups:
            return self.matches(condition)
        return bool(compiled(self.attributes))

    def hash_value(self, attribute: str | None, fallback: str | None = None) -> tuple[str, Any]:
        # The attribute hashed and its raw value ("" when missing): a non-empty string or a
        # finite non-zero number; otherwise the fallback attribute, by the same rule.
        name = attribute or "id"
        if _hashable(self.attributes.get(name)):
            return name, self.attributes[name]
        if fallback and _hashable(self.attributes.get(fallback)):
            return fallback, self.attributes[fallback]
        return name, ""


def _hashable(value: Any) -> bool:
    if isinstance(value, str):
        return value != ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return value != 0 and math.isfinite(value)
        except OverflowError:
            return False
    return False


def _hash_text(value: Any) -> str:
    return value if isinstance(value, str) else js_string(value) if value != "" else ""


def _context(attributes: Mapping[str, Any] | None, *, features: Mapping[str, Any] | None,
             saved_groups: Mapping[str, Any] | None, forced_variations: Mapping[str, Any] | None,
             url: str | None, qa_mode: bool, enabled: bool,
             sticky_buckets: MutableMapping[str, Any] | None,
             contextual_bandits: Mapping[str, Any] | None) -> _Context:
    for name, value in (("attributes", attributes), ("features", features), ("saved_groups", saved_groups),
                        ("forced_variations", forced_variations), ("sticky_buckets", sticky_buckets),
                        ("contextual_bandits", contextual_bandits)):
        if value is not None and type(value) is not dict and not isinstance(value, Mapping):
            raise TypeError(f"`{name}` must be a mapping; got {value!r}.")
    if url is not None and not isinstance(url, str):
        raise TypeError(f"`url` must be a string; got {url!r}.")
    qa, on = check_bool("qa_mode", qa_mode), check_bool("enabled", enabled)
    return _Context(attributes or {}, features or {}, saved_groups or {}, forced_variations or {},
                    url or "", qa, on, sticky_buckets, contextual_bandits or {})


def run_experiment(
    experiment: ExperimentSpec | Mapping[str, Any],
    attributes: Mapping[str, Any] | None = None,
    *,
    features: Mapping[str, Any] | None = None,
    saved_groups: Mapping[str, Any] | None = None,
    forced_variations: Mapping[str, int] | None = None,
    url: str | None = None,
    qa_mode: bool = False,
    enabled: bool = True,
    sticky_buckets: MutableMapping[str, Any] | None = None,
) -> Assignment:
    """The variation of a unit in an experiment (GrowthBook's ``run``; module docstring).

    Parameters
    ----------
    experiment
        An :class:`ExperimentSpec` or GrowthBook's JSON for one.
    attributes
        The unit's attributes (``"id"``, targeting attributes...).
    features
        GrowthBook's features payload, for prerequisites (``parentConditions``).
    saved_groups
        Saved groups for ``$inGroup`` conditions: id -> list of values.
    forced_variations
        ExperimentSpec key -> variation index forced for this unit.
    url
        The page's URL; ``?<experiment key>=<index>`` forces a variation.
    qa_mode
        Keep every unit out unless its variation is forced.
    enabled
        ``False`` keeps every unit out.
    sticky_buckets
        The unit's sticky-bucket documents (module docstring); ``None`` turns sticky bucketing off.

    Examples
    --------
    >>> r = run_experiment({"key": "my-test", "variations": ["a", "b"], "coverage": 0.4}, {"id": "1"})
    >>> r.in_experiment, r.value
    (False, 'a')
    >>> run_experiment({"key": "my-test", "variations": ["a", "b"]}, {"id": "1"},
    ...                forced_variations={"my-test": 0}).value
    'a'
    """
    if not isinstance(experiment, ExperimentSpec):  # built for this call: borrows its condition
        experiment = _spec_from_json(ExperimentSpec, "experiment", experiment, borrow=True)
    ctx = _context(attributes, features=features, saved_groups=saved_groups,
                   forced_variations=forced_variations, url=url, qa_mode=qa_mode, enabled=enabled,
                   sticky_buckets=sticky_buckets, contextual_bandits=None)
    return _run(experiment, None, ctx)


def evaluate_feature(
    key: str,
    features: Mapping[str, Any],
    attributes: Mapping[str, Any] | None = None,
    *,
    saved_groups: Mapping[str, Any] | None = None,
    forced_variations: Mapping[str, int] | None = None,
    url: str | None = None,
    qa_mode: bool = False,
    enabled: bool = True,
    sticky_buckets: MutableMapping[str, Any] | None = None,
    contextual_bandits: Mapping[str, Any] | None = None,
) -> FeatureResult:
    """A feature's value for a unit (GrowthBook's ``evalFeature``; module docstring).

    Parameters
    ----------
    key
        The feature's key in ``features``.
    features
        GrowthBook's features payload: key -> ``{"defaultValue", "rules"}``.
    attributes, saved_groups, forced_variations, url, qa_mode, enabled, sticky_buckets
        As in :func:`run_experiment`.
    contextual_bandits
        GrowthBook's ``contextualBandits`` payload, for rules with a ``contextualBanditRef``.

    Examples
    --------
    >>> features = {"checkout": {"defaultValue": "old", "rules": [{"force": "new", "coverage": 0.5}]}}
    >>> [evaluate_feature("checkout", features, {"id": u}).value for u in ("1", "2", "3", "4")]
    ['old', 'new', 'old', 'new']
    """
    ctx = _context(attributes, features=features, saved_groups=saved_groups,
                   forced_variations=forced_variations, url=url, qa_mode=qa_mode, enabled=enabled,
                   sticky_buckets=sticky_buckets, contextual_bandits=contextual_bandits)
    return _feature(check_string("key", key), ctx)


# --- the engine


def _result(experiment: ExperimentSpec, ctx: _Context, variation: int = -1, *, hash_used: bool = False,
            feature_id: str | None = None, bucket: float | None = None,
            sticky: bool = False, hashed: tuple[str, Any] | None = None) -> Assignment:
    variations = experiment.variations
    inside = isinstance(variation, int) and 0 <= variation < len(variations)
    if not inside:
        variation = 0
    meta = experiment.meta[variation] if experiment.meta and variation < len(experiment.meta) else {}
    attribute, value = hashed or ctx.hash_value(experiment.hash_attribute, _fallback(experiment, ctx))
    bandit = experiment.contextual_bandit if hash_used and inside else None
    return Assignment(
        variation_id=variation, in_experiment=inside, value=variations[variation] if variations else None,
        hash_used=hash_used, hash_attribute=attribute, hash_value=value, feature_id=feature_id,
        key=str(meta.get("key", variation)), name=meta.get("name", ""),
        passthrough=bool(meta.get("passthrough", False)), bucket=bucket, sticky_bucket_used=sticky,
        leaf_id=bandit["leafId"] if bandit else None,
        variation_weights=bandit["variationWeights"] if bandit else None,
        bandit_version=bandit.get("banditVersion") if bandit else None)


def _sticky(experiment: ExperimentSpec, ctx: _Context) -> bool:
    return ctx.sticky_buckets is not None and not experiment.disable_sticky_bucketing


def _fallback(experiment: ExperimentSpec, ctx: _Context) -> str | None:
    # Experiments use their fallback attribute only with sticky bucketing, as GrowthBook's SDKs.
    return experiment.fallback_attribute if _sticky(experiment, ctx) else None


def _run(experiment: ExperimentSpec, feature_id: str | None, ctx: _Context, *,
         condition_checked: bool = False) -> Assignment:
    n_variations = len(experiment.variations)
    if n_variations < 2 or not ctx.enabled:
        return _result(experiment, ctx, feature_id=feature_id)
    forced = query_string_override(experiment.key, ctx.url, n_variations) if ctx.url else None
    if forced is None:
        forced = ctx.forced_variations.get(experiment.key)
    if forced is not None:
        return _result(experiment, ctx, forced, feature_id=feature_id)
    if not experiment.active:
        return _result(experiment, ctx, feature_id=feature_id)
    attribute, raw = ctx.hash_value(experiment.hash_attribute, _fallback(experiment, ctx))
    hash_value = _hash_text(raw)
    if not hash_value:
        return _result(experiment, ctx, feature_id=feature_id)

    assigned, blocked = -1, False
    if _sticky(experiment, ctx):
        assigned, blocked = _sticky_variation(experiment, ctx)
    found_sticky = assigned >= 0
    if not found_sticky:
        if experiment.filters:  # filters replace the namespace
            if _filtered_out(experiment.filters, ctx):
                return _result(experiment, ctx, feature_id=feature_id)
        elif experiment.namespace and not in_namespace(hash_value, experiment.namespace):
            return _result(experiment, ctx, feature_id=feature_id)
        if not condition_checked and not ctx.spec_matches(experiment):
            return _result(experiment, ctx, feature_id=feature_id)
        if experiment.parent_conditions and _prerequisites(experiment.parent_conditions, ctx) != "pass":
            return _result(experiment, ctx, feature_id=feature_id)

    n = gb_hash(experiment.seed or experiment.key, hash_value, experiment.hash_version or 1)
    if n is None:
        return _result(experiment, ctx, feature_id=feature_id)
    if not found_sticky:
        assigned = choose_variation(n, _ranges(experiment))
    if blocked:
        return _result(experiment, ctx, feature_id=feature_id, sticky=True)
    if assigned < 0:
        return _result(experiment, ctx, feature_id=feature_id)
    if experiment.force is not None:
        return _result(experiment, ctx, experiment.force, feature_id=feature_id)
    if ctx.qa_mode:
        return _result(experiment, ctx, feature_id=feature_id)
    result = _result(experiment, ctx, assigned, hash_used=True, feature_id=feature_id, bucket=n,
                     sticky=found_sticky, hashed=(attribute, raw))
    if _sticky(experiment, ctx):
        _save_sticky(experiment, attribute, hash_value, result.key, ctx)
    return result


def _ranges(experiment: ExperimentSpec) -> Sequence[Sequence[float]]:
    if experiment.ranges:
        return experiment.ranges
    cache = experiment._cache
    ranges = cache.get("ranges") if cache is not None else None
    if ranges is None:
        ranges = bucket_ranges(len(experiment.variations),
                               1.0 if experiment.coverage is None else experiment.coverage,
                               _weights(experiment.weights))
        if cache is not None:
            cache["ranges"] = ranges
    return ranges


def _weights(weights: Any) -> list[float] | None:
    # Invalid weights mean equal weights (GrowthBook); keep bucket_ranges away from non-numbers.
    if not isinstance(weights, list) or not all(
            isinstance(w, int | float) and not isinstance(w, bool) for w in weights):
        return None
    return weights


def _filtered_out(filters: Sequence[Mapping[str, Any]], ctx: _Context) -> bool:
    # Each filter: the unit's hash (per filter seed, version 2 by default) must be in one of
    # its ranges; a unit without the filter's attribute is filtered out.
    for f in filters:
        value = _hash_text(ctx.hash_value(f.get("attribute"))[1])
        n = gb_hash(f.get("seed", ""), value, f.get("hashVersion", 2)) if value else None
        if n is None or choose_variation(n, f.get("ranges") or []) < 0:
            return True
    return False


def _in_rollout(rule: Mapping[str, Any], feature_key: str, ctx: _Context) -> bool:
    # A force rule's rollout: the unit's hash below coverage, or inside range.
    coverage, span = rule.get("coverage"), rule.get("range")
    if coverage is None and span is None:
        return True
    if coverage == 0 and span is None:
        return False
    value = _hash_text(ctx.hash_value(rule.get("hashAttribute"), rule.get("fallbackAttribute"))[1])
    n = gb_hash(rule.get("seed") or feature_key, value, rule.get("hashVersion") or 1) if value else None
    if n is None:
        return False
    return bool(span[0] <= n < span[1]) if span else bool(n < coverage)  # type: ignore[operator]


def _prerequisites(parents: Sequence[Mapping[str, Any]], ctx: _Context) -> str:
    # "pass", "fail", "gate" (a failing gating parent) or "cyclic".
    stack = set(ctx.stack)
    for parent in parents:
        ctx.stack = set(stack)
        if parent.get("id") is None:
            continue
        result = _feature(parent["id"], ctx)
        if result.source == "cyclicPrerequisite":
            return "cyclic"
        condition = parent.get("condition")
        if condition is not None and not ctx.matches(condition, {"value": result.value}):
            return "gate" if parent.get("gate", False) else "fail"
    return "pass"


def _feature(key: str, ctx: _Context) -> FeatureResult:
    if key not in ctx.features:
        return FeatureResult(value=None, source="unknownFeature")
    if key in ctx.stack:
        return FeatureResult(value=None, source="cyclicPrerequisite")
    ctx.stack.add(key)
    feature = ctx.features[key]
    rules = feature.get("rules") or [] if isinstance(feature, Mapping) else None
    if rules is None or not isinstance(rules, list) or not all(
            type(r) is dict or isinstance(r, Mapping) for r in rules):
        raise TypeError(f"`features` must map keys to {{'defaultValue', 'rules': [mappings]}}; got "
                        f"{key!r}: {feature!r}.")
    stack = set(ctx.stack)
    for rule in rules:
        ctx.stack = set(stack)
        rule_id = rule.get("id") or ""
        if rule.get("parentConditions"):
            verdict = _prerequisites(rule["parentConditions"], ctx)
            if verdict == "gate":
                return FeatureResult(value=None, source="prerequisite")
            if verdict == "cyclic":
                return FeatureResult(value=None, source="cyclicPrerequisite")
            if verdict == "fail":
                continue
        if not ctx.matches(rule.get("condition")):
            continue
        if rule.get("filters") and _filtered_out(rule["filters"], ctx):
            continue
        if rule.get("force") is not None:
            if _in_rollout(rule, key, ctx):
                return FeatureResult(value=rule["force"], source="force", rule_id=rule_id)
            continue
        variations = rule.get("contextualVariations", rule.get("variations"))
        if variations is None:
            continue
        experiment = ctx.experiments.get(id(rule)) or _rule_experiment(rule, key, variations)
        if rule.get("contextualBanditRef"):
            experiment = _with_bandit(experiment, rule, ctx)
        result = _run(experiment, key, ctx, condition_checked=True)  # the rule's, checked above
        if not result.in_experiment or result.passthrough:
            continue
        if experiment.contextual_bandit is not None and not result.hash_used:
            experiment = dataclasses.replace(experiment, contextual_bandit=None)
        return FeatureResult(value=result.value, source="experiment", rule_id=rule_id,
                             experiment=experiment, experiment_result=result)
    return FeatureResult(value=feature.get("defaultValue"), source="defaultValue")


def _rule_experiment(rule: Mapping[str, Any], key: str, variations: list[Any], *,
                     owned: bool = False) -> ExperimentSpec:
    # A rule's experiment (without its contextual bandit). Per call it borrows the rule's
    # condition (not copied, and not cached: the payload is the caller's); a FeatureSet builds it
    # once from its own copy of the payload (``owned``).
    skip: tuple[str, ...] = ("key", "variations", "contextual_bandit", "parent_conditions")
    if not owned:
        skip += ("condition",)
    fields = {field: rule[name] for field, name in _JSON_NAMES.items() if name in rule and field not in skip}
    experiment = ExperimentSpec(key=rule.get("key") or key, variations=variations, **fields)
    if not owned:
        object.__setattr__(experiment, "condition", rule.get("condition"))
        object.__setattr__(experiment, "_cache", None)
    return experiment


def _with_bandit(experiment: ExperimentSpec, rule: Mapping[str, Any], ctx: _Context) -> ExperimentSpec:
    definition = ctx.contextual_bandits.get(rule["contextualBanditRef"])
    if definition is None:
        return experiment  # a dangling reference: a plain experiment
    return _bandit_experiment(experiment, definition if isinstance(definition, Mapping) else {}, ctx)


def _bandit_experiment(experiment: ExperimentSpec, definition: Mapping[str, Any],
                       ctx: _Context) -> ExperimentSpec:
    # The first leaf whose condition matches sets the weights; otherwise the rule's own
    # (marginal) weights serve, reported as leaf -1.
    n = len(experiment.variations)
    leaf = next((c for c in definition.get("contexts") or [] if ctx.matches(c.get("condition"))), None)
    weights, leaf_id = (leaf.get("weights"), leaf.get("leafId")) if leaf is not None else (None, None)
    bandit: dict[str, Any]
    if _valid_weights(weights, n) and isinstance(leaf_id, int) and not isinstance(leaf_id, bool):
        experiment = dataclasses.replace(experiment, weights=weights)
        bandit = {"leafId": leaf_id, "variationWeights": weights}
    else:
        marginal = experiment.weights if _valid_weights(experiment.weights, n) else [1.0 / n] * n
        bandit = {"leafId": FALLBACK_LEAF, "variationWeights": marginal}
    version = definition.get("banditVersion")
    if isinstance(version, int) and not isinstance(version, bool):
        bandit["banditVersion"] = version
    return dataclasses.replace(experiment, contextual_bandit=bandit)


def _valid_weights(weights: Any, n: int) -> bool:
    return (_weights(weights) is not None and len(weights) == n
            and all(math.isfinite(w) and w >= 0 for w in weights) and 0.99 <= sum(weights) <= 1.01)


# --- sticky bucketing


def _sticky_key(experiment: ExperimentSpec, version: int | None = None) -> str:
    return f"{experiment.key}__{experiment.bucket_version or 0 if version is None else version}"


def _sticky_variation(experiment: ExperimentSpec, ctx: _Context) -> tuple[int, bool]:
    # (variation from the unit's documents or -1, whether an older bucket version blocks it)
    assert ctx.sticky_buckets is not None
    docs = ctx.sticky_buckets
    assignments: dict[str, Any] = {}
    for attribute in (experiment.hash_attribute or "id", experiment.fallback_attribute):
        if attribute is None:
            continue
        _, value = ctx.hash_value(attribute)
        doc = docs.get(f"{attribute}||{_hash_text(value)}")
        if isinstance(doc, Mapping):
            assignments = {**doc.get("assignments", {}), **assignments}
    if any(_sticky_key(experiment, v) in assignments for v in range(experiment.min_bucket_version or 0)):
        return -1, True
    wanted = assignments.get(_sticky_key(experiment))
    meta = experiment.meta or []
    return next((i for i, m in enumerate(meta) if wanted and m.get("key") == wanted), -1), False


def _save_sticky(experiment: ExperimentSpec, attribute: str, value: str, variation_key: str,
                 ctx: _Context) -> None:
    assert ctx.sticky_buckets is not None
    doc_key = f"{attribute}||{value}"
    existing = dict(ctx.sticky_buckets.get(doc_key, {}).get("assignments", {}))
    updated = {**existing, _sticky_key(experiment): variation_key}
    if json.dumps(updated, sort_keys=True) != json.dumps(existing, sort_keys=True):
        ctx.sticky_buckets[doc_key] = {"attributeName": attribute, "attributeValue": value,
                                       "assignments": updated}
