"""abkit: experimentation statistics for shipping machine-learning models.

Examples
--------
>>> import abkit
>>> r = abkit.proportions_test(abkit.ProportionStats(100, 1000), abkit.ProportionStats(130, 1000))
>>> r.pvalue < 0.05
True
"""

from abkit._results import ConfidenceInterval
from abkit.bayes import BayesMeansResult, BayesProportionsResult, bayes_means, bayes_proportions
from abkit.checks import srm_test
from abkit.errors import ConvergenceError, DegenerateDataWarning, StateError
from abkit.means import cuped_test, means_test, ratio_test
from abkit.multiple import adjust_pvalues
from abkit.nonparametric import BootstrapTestResult, MannWhitneyResult, bootstrap_test, mann_whitney_test
from abkit.proportions import proportions_test
from abkit.stats import BivariateStats, MeanStats, ProportionStats

__version__ = "0.1.0"

__all__ = [
    "BayesMeansResult",
    "BayesProportionsResult",
    "BivariateStats",
    "BootstrapTestResult",
    "ConfidenceInterval",
    "ConvergenceError",
    "DegenerateDataWarning",
    "MannWhitneyResult",
    "MeanStats",
    "ProportionStats",
    "StateError",
    "adjust_pvalues",
    "bayes_means",
    "bayes_proportions",
    "bootstrap_test",
    "cuped_test",
    "mann_whitney_test",
    "means_test",
    "proportions_test",
    "ratio_test",
    "srm_test",
]
