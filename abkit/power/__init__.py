"""Sample size, power, minimum detectable effect (MDE) and duration of experiments.

Each of :func:`power_proportions`, :func:`power_means` and :func:`power_ratio` solves for the one
of ``mde``, ``n_control`` and ``power`` left ``None``. Every numeric argument broadcasts as a
NumPy array, so a grid of designs or a whole power curve is one call: closed forms where they
exist (the near-tail normal sample size and MDE), and otherwise vectorised bracketed solves
(regula falsi, Illinois variant) that raise :class:`abkit.ConvergenceError` with the reason when a target
cannot be reached. :func:`duration` turns sample sizes into days, and
:func:`sequential_sample_size` a fixed design into a group-sequential one (maximum and expected
sizes).

Two-sided power counts both rejection regions by default (``two_sided_power="both"``: the exact
power, as pwr, statsmodels and R's ``strict = TRUE``); ``two_sided_power="near"`` counts only the
region on the effect's side, as R's ``power.prop.test`` and ``power.t.test`` by default.

Examples
--------
>>> from abkit import power_means
>>> r = power_means(sd=1.0, mde=0.5, power=0.8)
>>> round(r.n_control, 3), r.n_total
(63.766, 128)
"""

from abkit.power.duration import DurationResult, duration
from abkit.power.means import MeansPowerResult, power_means, power_ratio
from abkit.power.proportions import ProportionsPowerResult, power_proportions
from abkit.power.sequential import SequentialSampleSizeResult, sequential_sample_size

__all__ = [
    "DurationResult",
    "MeansPowerResult",
    "ProportionsPowerResult",
    "SequentialSampleSizeResult",
    "duration",
    "power_means",
    "power_proportions",
    "power_ratio",
    "sequential_sample_size",
]
