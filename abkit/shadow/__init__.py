"""Champion/challenger comparison of shadow logs.

In shadow mode every request reaches the live model (the champion) and one or more shadow
models (challengers); only the champion's answer is served. Because both models see the same
requests, the comparison is paired, which is far more powerful than the two-sample tests of
canary tools. Everything here is oriented ``challenger - champion``: a positive effect on a
loss means the challenger is worse.

- Paired tests: :func:`mcnemar_test`, :func:`paired_t_test`, :func:`wilcoxon_test`,
  :func:`delong_test` and :func:`auc_ci`, :func:`diebold_mariano_test`,
  :func:`paired_bootstrap`; latency with :func:`latency_quantiles` and
  :func:`latency_ratio_test`; the unpaired baseline :func:`mann_whitney_test`.
- The log: :class:`ShadowLog` (tables load with :func:`abkit.frame.load_shadow_log`).
- The decision: :func:`compare_models` with :class:`ShadowMetric`, read once at the planned
  size; :class:`ShadowMonitor` watches a shadow batch after batch (daily) with always-valid
  p-values and confidence sequences, without inflating false promotions.

Examples
--------
>>> from abkit.shadow import delong_test
>>> r = delong_test([0, 1, 0, 1, 1, 0], [0.2, 0.6, 0.5, 0.4, 0.9, 0.1], [0.1, 0.8, 0.3, 0.7, 0.9, 0.2])
>>> round(r.effect, 4)
0.1111
"""

from abkit.nonparametric import MannWhitneyResult, mann_whitney_test
from abkit.shadow.auc import AUCInterval, DeLongTestResult, auc_ci, delong_from_moments, delong_test
from abkit.shadow.decision import (
    ChallengerVerdict,
    MetricComparison,
    ShadowComparison,
    ShadowMetric,
    compare_models,
)
from abkit.shadow.forecast import (
    DieboldMarianoTestResult,
    diebold_mariano_from_autocovariances,
    diebold_mariano_test,
)
from abkit.shadow.latency import (
    INSUFFICIENT_TAIL_DATA,
    LatencyQuantiles,
    LatencyRatioResult,
    QuantileEstimate,
    latency_quantiles,
    latency_ratio_from_log_test,
    latency_ratio_test,
)
from abkit.shadow.log import ShadowLog, ShadowLogReport
from abkit.shadow.monitor import ShadowMonitor, ShadowMonitorResult
from abkit.shadow.paired import (
    McNemarTestResult,
    PairedTTestResult,
    WilcoxonTestResult,
    mcnemar_from_counts,
    mcnemar_test,
    paired_t_from_moments,
    paired_t_test,
    wilcoxon_test,
)
from abkit.shadow.resample import PairedBootstrapResult, paired_bootstrap

__all__ = [
    "INSUFFICIENT_TAIL_DATA",
    "AUCInterval",
    "ChallengerVerdict",
    "DeLongTestResult",
    "DieboldMarianoTestResult",
    "LatencyQuantiles",
    "LatencyRatioResult",
    "MannWhitneyResult",
    "McNemarTestResult",
    "MetricComparison",
    "PairedBootstrapResult",
    "PairedTTestResult",
    "QuantileEstimate",
    "ShadowComparison",
    "ShadowLog",
    "ShadowLogReport",
    "ShadowMetric",
    "ShadowMonitor",
    "ShadowMonitorResult",
    "WilcoxonTestResult",
    "auc_ci",
    "compare_models",
    "delong_from_moments",
    "delong_test",
    "diebold_mariano_from_autocovariances",
    "diebold_mariano_test",
    "latency_quantiles",
    "latency_ratio_from_log_test",
    "latency_ratio_test",
    "mann_whitney_test",
    "mcnemar_from_counts",
    "mcnemar_test",
    "paired_bootstrap",
    "paired_t_from_moments",
    "paired_t_test",
    "wilcoxon_test",
]
