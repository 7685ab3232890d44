"""How many days an experiment needs, from traffic, its share in the experiment and the allocation.

The model of arrivals:

- Without ``population`` every daily visitor is a new unit, so units accrue linearly:
  ``units(t) = traffic_share * daily_visitors * t``.
- With ``population`` (the number of distinct users who ever visit), users return: each of them
  visits as a Poisson process with rate ``daily_visitors / population`` per day, so the expected
  number of distinct users seen by day ``t`` saturates,
  ``units(t) = traffic_share * population * (1 - exp(-t * daily_visitors / population))``. Early
  on it equals the linear model; it can never exceed ``traffic_share * population``.

Units are split between arms by ``control_share`` (the rest shared equally by the treatment
arms); the experiment lasts until the arm that fills last has its units. Answers are fractional
days (not rounded to days or weeks).

Examples
--------
>>> from abkit import duration
>>> round(duration(n_control=10_000, daily_visitors=2_000, traffic_share=0.5).days, 3)
20.0
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from abkit._validation import as_checked_array
from abkit.power._core import ArrayResult, FloatOrArray, fail

__all__ = ["DurationResult", "duration"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class DurationResult(ArrayResult):
    """Result of :func:`duration`: ``days`` (fractional) and the units the experiment must enrol.

    ``units_needed`` counts distinct units across all arms; ``population`` is NaN when every
    visitor is new. Numeric fields are arrays when any numeric input is an array.
    """

    days: FloatOrArray
    units_needed: FloatOrArray
    n_control: FloatOrArray
    n_treatment: FloatOrArray
    n_treatments: FloatOrArray
    control_share: FloatOrArray
    traffic_share: FloatOrArray
    daily_visitors: FloatOrArray
    population: FloatOrArray


def _share(name: str, value: Any) -> Any:
    array = as_checked_array(name, value, "positive")
    if np.any(array > 1.0):
        raise ValueError(f"`{name}` must be in (0, 1]; got {float(array[array > 1.0][0])}.")
    return array


def duration(
    *,
    n_control: Any,
    daily_visitors: Any,
    n_treatment: Any = None,
    n_treatments: Any = 1,
    traffic_share: Any = 1.0,
    control_share: Any = None,
    population: Any = None,
) -> DurationResult:
    """Days needed to enrol the units a design asks for.

    Parameters
    ----------
    n_control
        Units needed in the control arm (e.g. a power result's ``n_control``).
    daily_visitors
        Visits per day to the surface the experiment runs on.
    n_treatment
        Units needed in each treatment arm; defaults to ``n_control``.
    n_treatments
        Number of treatment arms.
    traffic_share
        Share of users in the experiment, in (0, 1].
    control_share
        Share of the experiment's units assigned to control, in (0, 1); the treatment arms split
        the rest equally. Defaults to the share that fills every arm at once,
        ``n_control / (n_control + n_treatments * n_treatment)``.
    population
        Distinct users who visit (returning users; see the module docstring). ``None``: every
        visit is a new unit.

    Returns
    -------
    DurationResult

    Raises
    ------
    ConvergenceError
        When the population in the experiment is smaller than the units needed.

    Examples
    --------
    >>> from abkit import duration
    >>> r = duration(n_control=10_000, daily_visitors=2_000, traffic_share=0.5, population=50_000)
    >>> round(r.days, 3)
    40.236
    >>> round(duration(n_control=10_000, daily_visitors=2_000, control_share=0.25).days, 3)
    20.0
    """
    n_c = as_checked_array("n_control", n_control, "positive")
    n_t = n_c if n_treatment is None else as_checked_array("n_treatment", n_treatment, "positive")
    arms = as_checked_array("n_treatments", n_treatments, "count")
    visitors = as_checked_array("daily_visitors", daily_visitors, "positive")
    share = _share("traffic_share", traffic_share)
    users = np.asarray(np.inf) if population is None else as_checked_array(
        "population", population, "positive"
    )
    if control_share is None:
        c_share = n_c / (n_c + arms * n_t)
    else:
        c_share = as_checked_array("control_share", control_share, "open_unit")
    inputs = (n_c, n_t, arms, visitors, share, users, c_share)
    scalar = all(np.ndim(a) == 0 for a in inputs)
    n_c, n_t, arms, visitors, share, users, c_share = np.broadcast_arrays(*inputs)
    if control_share is None:  # exact: every arm fills at once
        units = n_c + arms * n_t
    else:
        units = np.maximum(n_c / c_share, n_t * arms / (1.0 - c_share))
    eligible = share * users
    fail(units >= eligible, "The experiment needs more distinct users than will ever enter it "
         "(traffic_share * population); raise traffic_share or lower the sample size.", scalar=scalar)
    rate = visitors / users
    with np.errstate(divide="ignore", invalid="ignore"):
        days = np.where(np.isinf(users), units / (share * visitors), -np.log1p(-units / eligible) / rate)
    fields = {
        "days": days,
        "units_needed": units,
        "n_control": n_c,
        "n_treatment": n_t,
        "n_treatments": arms,
        "control_share": c_share,
        "traffic_share": share,
        "daily_visitors": visitors,
        "population": np.where(np.isinf(users), np.nan, users),
    }
    out = {k: float(v) if scalar else np.array(v, dtype=np.float64) for k, v in fields.items()}
    return DurationResult(**out)
