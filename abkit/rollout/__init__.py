"""Canary, blue-green, rolling and recreate rollouts: a judge, Kayenta compatibility, controllers.

- :class:`CanaryJudge` compares a canary with its baseline per metric (error rates, tail
  latency quantiles, means, ranks) against margins, with Holm across metrics, a minimum sample
  and validity over repeated looks: always-valid confidence sequences (the default; any number
  of looks) or alpha spent over the planned looks of a ramp.
- :func:`kayenta_classify`, :func:`kayenta_score` and :func:`kayenta_score_classification`
  reproduce Netflix Kayenta's judge; :func:`argo_assess` Argo Rollouts' metric assessment.
- :class:`CanaryRollout`, :class:`BlueGreen`, :class:`RollingUpdate` and :class:`Recreate`
  are JSON-state controllers; :class:`abkit.adapters.CanaryRouter` drives a canary from live
  traffic.

Examples
--------
>>> from abkit.rollout import CanaryJudge
>>> CanaryJudge.latency("p99", quantile=0.99, margin=0.05).min_samples
1000
"""

from abkit.rollout.argo import argo_assess
from abkit.rollout.controllers import BlueGreen, CanaryRollout, Recreate, RollingUpdate
from abkit.rollout.judge import CanaryJudge, CanaryVerdict, MetricCheck, MetricVerdict
from abkit.rollout.kayenta import (
    KayentaClassification,
    KayentaScore,
    kayenta_classify,
    kayenta_score,
    kayenta_score_classification,
)

__all__ = [
    "BlueGreen",
    "CanaryJudge",
    "CanaryRollout",
    "CanaryVerdict",
    "KayentaClassification",
    "KayentaScore",
    "MetricCheck",
    "MetricVerdict",
    "Recreate",
    "RollingUpdate",
    "argo_assess",
    "kayenta_classify",
    "kayenta_score",
    "kayenta_score_classification",
]

