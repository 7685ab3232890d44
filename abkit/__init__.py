"""abkit: experimentation statistics for shipping machine-learning models.

Examples
--------
>>> import abkit
>>> r = abkit.proportions_test(abkit.ProportionStats(100, 1000), abkit.ProportionStats(130, 1000))
>>> r.pvalue < 0.05
True
"""

from abkit import bandits
from abkit._results import ConfidenceInterval
from abkit.checks import srm_test
from abkit.errors import ConvergenceError, DegenerateDataWarning, StateError
from abkit.means import cuped_test, means_test, ratio_test
from abkit.multiple import adjust_pvalues
from abkit.proportions import proportions_test
from abkit.stats import BivariateStats, MeanStats, ProportionStats

__version__ = "0.1.0"

__all__ = [
    "BivariateStats",
    "ConfidenceInterval",
    "ConvergenceError",
    "DegenerateDataWarning",
    "MeanStats",
    "ProportionStats",
    "StateError",
    "adjust_pvalues",
    "bandits",
    "cuped_test",
    "means_test",
    "proportions_test",
    "ratio_test",
    "srm_test",
]
