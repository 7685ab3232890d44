"""A GrowthBook features payload compiled once: :class:`FeatureSet`.

:func:`~abkit.flags.evaluate_feature` reads the payload's JSON on every call: each rule's
condition is interpreted and each experiment rule's :class:`~abkit.flags.ExperimentSpec` is
rebuilt. A :class:`FeatureSet` copies the payload once, compiles every condition in it (rule
conditions, prerequisites' conditions, contextual-bandit leaves; :func:`compile_condition`),
prebuilds each experiment rule's ``ExperimentSpec`` and its bucket ranges, and then evaluates
features with :meth:`FeatureSet.evaluate`, whose result is exactly ``evaluate_feature``'s.

Examples
--------
>>> features = FeatureSet({"new-ranker": {"defaultValue": False, "rules": [
...     {"condition": {"country": "NZ"}, "force": True},
...     {"key": "ranker-test", "variations": [False, True], "hashVersion": 2}]}})
>>> features.evaluate("new-ranker", {"id": "u1", "country": "NZ"}).source
'force'
>>> result = features.evaluate("new-ranker", {"id": "u2", "country": "AU"})
>>> result.source, result.value, result.experiment_result.variation_id
('experiment', True, 1)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any

from abkit._validation import check_string
from abkit.flags.compiled import compile_frozen, freeze
from abkit.flags.conditions import _is_mapping
from abkit.flags.evaluation import (
    ExperimentSpec,
    FeatureResult,
    _Context,
    _context,
    _feature,
    _rule_experiment,
)

__all__ = ["FeatureSet"]


class FeatureSet:
    """GrowthBook's features payload, compiled once for :meth:`evaluate` (module docstring).

    Parameters
    ----------
    features
        GrowthBook's features payload: key -> ``{"defaultValue", "rules"}``; copied, so later
        changes to it do not reach the set (build a new one to serve a new payload).
    saved_groups
        Saved groups for ``$inGroup`` conditions: id -> list of values (copied).
    contextual_bandits
        GrowthBook's ``contextualBandits`` payload, for rules with a ``contextualBanditRef``
        (copied).

    Examples
    --------
    >>> flags = FeatureSet({"beta": {"defaultValue": False, "rules": [
    ...     {"condition": {"id": {"$inGroup": "testers"}}, "force": True}]}},
    ...     saved_groups={"testers": ["u7"]})
    >>> flags.evaluate("beta", {"id": "u7"}).on, flags.evaluate("beta", {"id": "u8"}).on
    (True, False)
    >>> "beta" in flags, len(flags)
    (True, 1)
    """

    __slots__ = ("_bandits", "_conditions", "_experiments", "_features", "_groups")

    def __init__(self, features: Mapping[str, Any], *, saved_groups: Mapping[str, Any] | None = None,
                 contextual_bandits: Mapping[str, Any] | None = None) -> None:
        for name, value in (("features", features), ("saved_groups", saved_groups),
                            ("contextual_bandits", contextual_bandits)):
            if (value is not None or name == "features") and not isinstance(value, Mapping):
                raise TypeError(f"`{name}` must be a mapping; got {value!r}.")
        self._features: dict[str, Any] = freeze(features)
        self._groups: dict[str, Any] = freeze(saved_groups) if saved_groups else {}
        self._bandits: dict[str, Any] = freeze(contextual_bandits) if contextual_bandits else {}
        self._conditions: dict[int, Callable[..., bool]] = {}
        self._experiments: dict[int, ExperimentSpec] = {}
        for key, feature in self._features.items():
            rules = feature.get("rules") if isinstance(feature, Mapping) else None
            for rule in rules if isinstance(rules, list) else []:
                if isinstance(rule, Mapping):
                    self._compile_rule(key, rule)
        for definition in self._bandits.values():
            contexts = definition.get("contexts") if isinstance(definition, Mapping) else None
            for leaf in contexts if isinstance(contexts, list) else []:
                if isinstance(leaf, Mapping):
                    self._compile(leaf.get("condition"))

    def _compile(self, condition: Any) -> None:
        # Malformed conditions are left to the interpreter, which fails them at evaluation.
        if condition and _is_mapping(condition):
            self._conditions[id(condition)] = compile_frozen(condition, self._groups)

    def _compile_rule(self, key: str, rule: Mapping[str, Any]) -> None:
        self._compile(rule.get("condition"))
        parents = rule.get("parentConditions")
        for parent in parents if isinstance(parents, list) else []:
            if isinstance(parent, Mapping):
                self._compile(parent.get("condition"))
        variations = rule.get("contextualVariations", rule.get("variations"))
        if variations is None or rule.get("force") is not None:
            return
        # A rule refused here is built (and refused, with the same error) when it is reached.
        with contextlib.suppress(TypeError, ValueError):
            self._experiments[id(rule)] = _rule_experiment(rule, key, variations, owned=True)

    def evaluate(
        self,
        key: str,
        attributes: Mapping[str, Any] | None = None,
        *,
        forced_variations: Mapping[str, int] | None = None,
        url: str | None = None,
        qa_mode: bool = False,
        enabled: bool = True,
        sticky_buckets: MutableMapping[str, Any] | None = None,
    ) -> FeatureResult:
        """A feature's value for a unit: ``evaluate_feature(key, features, attributes, ...)``.

        Parameters
        ----------
        key
            The feature's key.
        attributes, forced_variations, url, qa_mode, enabled, sticky_buckets
            As in :func:`~abkit.flags.evaluate_feature`.

        Examples
        --------
        >>> flags = FeatureSet({"checkout": {"defaultValue": "old",
        ...                                  "rules": [{"force": "new", "coverage": 0.5}]}})
        >>> [flags.evaluate("checkout", {"id": u}).value for u in ("1", "2", "3", "4")]
        ['old', 'new', 'old', 'new']
        """
        if (type(attributes) is dict and forced_variations is None and url is None and qa_mode is False
                and enabled is True and sticky_buckets is None):  # the common call: nothing to check
            ctx = _Context(attributes, self._features, self._groups, {}, "", False, True, None, self._bandits,
                           set(), self._conditions, self._experiments)
            return _feature(key if type(key) is str else check_string("key", key), ctx)
        ctx = _context(attributes, features=self._features, saved_groups=self._groups,
                       forced_variations=forced_variations, url=url, qa_mode=qa_mode, enabled=enabled,
                       sticky_buckets=sticky_buckets, contextual_bandits=self._bandits)
        ctx.conditions, ctx.experiments = self._conditions, self._experiments
        return _feature(check_string("key", key), ctx)

    def __contains__(self, key: object) -> bool:
        return key in self._features

    def __iter__(self) -> Iterator[str]:
        return iter(self._features)

    def __len__(self) -> int:
        return len(self._features)

    def __repr__(self) -> str:
        return f"FeatureSet({len(self._features)} features, {len(self._conditions)} compiled conditions)"
