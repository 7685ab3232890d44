"""abkit: experimentation statistics for shipping machine-learning models.

Examples
--------
>>> import abkit
>>> r = abkit.proportions_test(abkit.ProportionStats(100, 1000), abkit.ProportionStats(130, 1000))
>>> r.pvalue < 0.05
True
"""

from abkit import bandits, datasets, sequential
from abkit._results import ConfidenceInterval
from abkit._warmup import warmup
from abkit.adapters import BanditRouter, FixedSplitRouter, Route, Router, ShadowRouter
from abkit.assignment import assign
from abkit.bayes import BayesMeansResult, BayesProportionsResult, bayes_means, bayes_proportions
from abkit.errors import ConvergenceError, DegenerateDataWarning, StateError
from abkit.flags import FeatureFlag, evaluate_condition, evaluate_feature, run_experiment
from abkit.frame import Experiment, Mean, Proportion, Quantile, RatioOfMeans, compare_models
from abkit.means import cuped_test, means_test, ratio_test
from abkit.multiple import adjust_pvalues
from abkit.nonparametric import BootstrapTestResult, MannWhitneyResult, bootstrap_test, mann_whitney_test
from abkit.power import (
    DurationResult,
    MeansPowerResult,
    ProportionsPowerResult,
    SequentialSampleSizeResult,
    duration,
    power_means,
    power_proportions,
    power_ratio,
    sequential_sample_size,
)
from abkit.proportions import proportions_test
from abkit.rollout import (
    BlueGreen,
    CanaryJudge,
    CanaryRollout,
    Recreate,
    RollingUpdate,
    kayenta_classify,
    kayenta_score,
)
from abkit.shadow import (
    auc_ci,
    delong_test,
    diebold_mariano_test,
    mcnemar_test,
    paired_bootstrap,
    paired_t_test,
    wilcoxon_test,
)
from abkit.srm import srm_test
from abkit.stats import BivariateStats, MeanStats, ProportionStats

__version__ = "0.1.0"

__all__ = [
    "BanditRouter",
    "BayesMeansResult",
    "BayesProportionsResult",
    "BivariateStats",
    "BlueGreen",
    "BootstrapTestResult",
    "CanaryJudge",
    "CanaryRollout",
    "ConfidenceInterval",
    "ConvergenceError",
    "DegenerateDataWarning",
    "DurationResult",
    "Experiment",
    "FeatureFlag",
    "FixedSplitRouter",
    "MannWhitneyResult",
    "Mean",
    "MeanStats",
    "MeansPowerResult",
    "Proportion",
    "ProportionStats",
    "ProportionsPowerResult",
    "Quantile",
    "RatioOfMeans",
    "Recreate",
    "RollingUpdate",
    "Route",
    "Router",
    "SequentialSampleSizeResult",
    "ShadowRouter",
    "StateError",
    "adjust_pvalues",
    "assign",
    "auc_ci",
    "bandits",
    "bayes_means",
    "bayes_proportions",
    "bootstrap_test",
    "compare_models",
    "cuped_test",
    "datasets",
    "delong_test",
    "diebold_mariano_test",
    "duration",
    "evaluate_condition",
    "evaluate_feature",
    "kayenta_classify",
    "kayenta_score",
    "mann_whitney_test",
    "mcnemar_test",
    "means_test",
    "paired_bootstrap",
    "paired_t_test",
    "power_means",
    "power_proportions",
    "power_ratio",
    "proportions_test",
    "ratio_test",
    "run_experiment",
    "sequential",
    "sequential_sample_size",
    "srm_test",
    "warmup",
    "wilcoxon_test",
]
