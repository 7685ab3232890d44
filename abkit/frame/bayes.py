"""The Bayesian engine of :meth:`abkit.frame.Experiment.analyze` (``engine="bayes"``).

Every metric is summarised by :mod:`abkit.bayes` on the same engine aggregates as the
frequentist tests: a :class:`~abkit.frame.Proportion` by :func:`abkit.bayes_proportions` (Beta
posteriors, ``prior`` pseudo-counts); a :class:`~abkit.frame.Mean` by :func:`abkit.bayes_means`
(normal posteriors ``N(mean, var / n)``), with a covariate on the CUPED-adjusted means and
per-unit variances of :func:`abkit.cuped_test`; a :class:`~abkit.frame.RatioOfMeans` by
:func:`abkit.bayes_means` on each arm's ratio with its delta-method per-unit variance (as
:func:`abkit.ratio_test`). This is GrowthBook's Bayesian engine with its uninformative priors.
"""

from __future__ import annotations

from typing import Any

from abkit.bayes import BayesMeansResult, bayes_means, bayes_proportions
from abkit.frame.result import BayesMetricResult
from abkit.means import _cuped_arms, _ratio_arm
from abkit.stats import BivariateStats, MeanStats, ProportionStats

__all__ = ["bayes_row"]


def _posterior(kind: str, control: Any, treatment: Any, confidence_level: float,
               prior: tuple[float, float]) -> tuple[str, BayesMeansResult]:
    if kind == "proportion":
        assert isinstance(control, ProportionStats) and isinstance(treatment, ProportionStats)
        return "bayes_proportions", bayes_proportions(control, treatment, prior=prior,
                                                      confidence_level=confidence_level)
    if kind == "mean":
        assert isinstance(control, MeanStats) and isinstance(treatment, MeanStats)
        return "bayes_means", bayes_means(control, treatment, confidence_level=confidence_level)
    assert isinstance(control, BivariateStats) and isinstance(treatment, BivariateStats)
    if kind == "ratio":
        arms = _ratio_arm("control", control), _ratio_arm("treatment", treatment)
    else:
        arms = _cuped_arms(control, treatment)[1:]
    c, t = (MeanStats(a.n, a.mean, a.var) for a in arms)
    return "bayes_means", bayes_means(c, t, confidence_level=confidence_level)


def bayes_row(name: str, kind: str, treatment: Any, control: Any, control_stats: Any,
              treatment_stats: Any, *, confidence_level: float, prior: tuple[float, float],
              cap_threshold: float, labels: tuple[str, str]) -> BayesMetricResult:
    """One metric (``kind``: ``"proportion"``, ``"mean"``, ``"cuped"`` or ``"ratio"``), one
    treatment against the control, summarised by its posterior."""
    test, r = _posterior(kind, control_stats, treatment_stats, confidence_level, prior)
    return BayesMetricResult(
        metric=name, treatment=treatment, control=control, test=test, method=r.method,
        control_value=r.control_mean, treatment_value=r.treatment_mean, effect=r.effect, ci=r.ci,
        relative_effect=r.relative_effect, relative_ci=r.relative_ci,
        chance_to_win=r.chance_to_win, control_expected_loss=r.control_expected_loss,
        treatment_expected_loss=r.treatment_expected_loss, n_control=control_stats.n,
        n_treatment=treatment_stats.n, confidence_level=confidence_level,
        cap_threshold=cap_threshold, control_label=labels[0], treatment_label=labels[1], details=r,
    )
