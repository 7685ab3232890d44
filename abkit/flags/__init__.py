"""Feature flags, targeting conditions, and GrowthBook experiments and features.

- :class:`FeatureFlag` (``abkit.flags._flag``): a flag rolled out to a share of the units that
  pass a targeting condition, with a kill switch.
- :mod:`abkit.flags.conditions`: GrowthBook's condition language, :func:`evaluate_condition`
  (lenient, as GrowthBook's SDKs) and :func:`check_condition` (strict, for flags).
- :mod:`abkit.flags.evaluation`: GrowthBook's ``run`` (:func:`run_experiment`) and feature
  evaluation (:func:`evaluate_feature`), with sticky bucketing and prerequisites.
- Compiled once, for serving: :func:`compile_condition` (``abkit.flags.compiled``) and
  :class:`FeatureSet` (``abkit.flags.feature_set``), a features payload whose conditions are
  compiled and whose experiment rules are prebuilt; same results as the interpreted calls.

All of it agrees with GrowthBook's SDK conformance suite (spec 0.8.0); hashing and bucketing are
:mod:`abkit.assignment`'s.
"""

from abkit.flags._flag import FeatureFlag
from abkit.flags.compiled import compile_condition
from abkit.flags.conditions import MAX_CONDITION_DEPTH, check_condition, evaluate_condition
from abkit.flags.evaluation import (
    Assignment,
    ExperimentSpec,
    FeatureResult,
    evaluate_feature,
    query_string_override,
    run_experiment,
)
from abkit.flags.feature_set import FeatureSet

__all__ = [
    "MAX_CONDITION_DEPTH",
    "Assignment",
    "ExperimentSpec",
    "FeatureFlag",
    "FeatureResult",
    "FeatureSet",
    "check_condition",
    "compile_condition",
    "evaluate_condition",
    "evaluate_feature",
    "query_string_override",
    "run_experiment",
]
