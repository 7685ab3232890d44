"""The table layer: the only code that reads DataFrames, engines or files.

- :mod:`abkit.frame.experiment`: :class:`Experiment` (``analyze``, optionally by segment with
  ``by=``; ``simulate``: A/A and power simulations by re-randomising units,
  :mod:`abkit.frame.simulate`) and :func:`to_frame` (results as a pandas DataFrame); its parts:
  :mod:`abkit.frame.metrics` (:class:`Proportion`, :class:`Mean`, :class:`RatioOfMeans`;
  :class:`Quantile` in :mod:`abkit.frame.quantile`), :mod:`abkit.frame.aggregate`
  (:func:`summarize`: one group-by inside the table's engine), :mod:`abkit.frame.capping`,
  :mod:`abkit.frame.family` (multiple-testing families, Dunnett), :mod:`abkit.frame.bayes` and
  :mod:`abkit.frame.result`.
- :mod:`abkit.frame.shadow_log`: :func:`load_shadow_log` (a table, a file or a router's log to an
  :class:`abkit.shadow.ShadowLog`).
- :mod:`abkit.frame.router_log`: :func:`read_log`, :func:`load_outcomes` (for
  ``Experiment.analyze``) and :func:`load_decision_log` (for off-policy evaluation) read the
  routers' decision and outcome log directories in DuckDB.
- :mod:`abkit.frame.offpolicy`: :class:`OffPolicyTable` and :func:`evaluate_policy` (IPS, SNIPS,
  direct method, doubly robust and replay from a decision log, through engine aggregates).
- :mod:`abkit.frame.shadow_engine`: :class:`ShadowTable` (paired tests from engine aggregates)
  and :func:`compare_models` on a table, a file or a directory of log segments.

Examples
--------
>>> from abkit.datasets import make_shadow_log
>>> log = load_shadow_log(make_shadow_log(100, rng=1))
>>> log.models, log.report.n_requests
(('challenger', 'champion'), 100)
"""

from abkit.frame.experiment import (
    Experiment,
    ExperimentResult,
    Mean,
    Metric,
    MetricResult,
    Proportion,
    RatioOfMeans,
    summarize,
    to_frame,
)
from abkit.frame.offpolicy import OPE_METHODS, OffPolicyTable, evaluate_policy
from abkit.frame.quantile import Quantile, QuantileStats, QuantileTestResult, quantile_test
from abkit.frame.result import SegmentResult
from abkit.frame.router_log import LOG_EVENTS, load_decision_log, load_outcomes, read_log
from abkit.frame.shadow_engine import ShadowTable, compare_models
from abkit.frame.shadow_log import LAYOUTS, load_shadow_log
from abkit.frame.simulate import SimulationResult, SimulationRow

__all__ = [
    "LAYOUTS",
    "LOG_EVENTS",
    "OPE_METHODS",
    "Experiment",
    "ExperimentResult",
    "Mean",
    "Metric",
    "MetricResult",
    "OffPolicyTable",
    "Proportion",
    "Quantile",
    "QuantileStats",
    "QuantileTestResult",
    "RatioOfMeans",
    "SegmentResult",
    "ShadowTable",
    "SimulationResult",
    "SimulationRow",
    "compare_models",
    "evaluate_policy",
    "load_decision_log",
    "load_outcomes",
    "load_shadow_log",
    "quantile_test",
    "read_log",
    "summarize",
    "to_frame",
]
