"""Sufficient statistics: small immutable values that tests consume and that merge exactly.

``ProportionStats`` (successes, n), ``MeanStats`` (n, mean, sample variance) and
``BivariateStats`` (two columns per unit: their means, sample variances and covariance) can be
built from raw samples, from engine aggregates (count, sum, sum of squares, sum of
cross-products) or field by field, and ``merge`` combines two of them exactly with the parallel
update of Chan, Golub and LeVeque, so partial aggregates from workers, days or router instances
combine without raw data.

Variances and covariances use the ``n - 1`` denominator. With fewer than two units the variance
is stored as 0 (it is undefined); tests refuse such groups.

Examples
--------
>>> a = MeanStats.from_samples([1.0, 2.0, 3.0])
>>> b = MeanStats.from_samples([4.0, 5.0])
>>> a.merge(b) == MeanStats.from_samples([1.0, 2.0, 3.0, 4.0, 5.0])
True
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import sys
from typing import Any

import numpy as np
import numpy.typing as npt

from abkit._validation import (
    as_float_array,
    as_paired_float_arrays,
    check_int,
    check_nonnegative,
    check_real,
)

__all__ = ["BivariateStats", "MeanStats", "ProportionStats"]


def _check_small_n_variance(n: int, names_values: list[tuple[str, float]]) -> None:
    if n < 2:
        for name, value in names_values:
            if value != 0.0:
                raise ValueError(f"`{name}` must be 0 when `n` < 2 (n = {n}); got {value}.")


def _rounding(n: int, *magnitudes: float) -> float:
    """How far sums of ``n`` floats of these magnitudes can be off by rounding (a generous bound:
    naive summation's ``n`` ulps, times 8)."""
    # (plus the smallest normal float per term: squares of values near 1e-154 are subnormal)
    return 8.0 * (n + 1) * (sys.float_info.epsilon * sum(abs(m) for m in magnitudes) + sys.float_info.min)


def _m2_from_sums(n: int, total: float, total_sq: float,
                  names: tuple[str, str] = ("total", "total_sq")) -> float:
    """Sum of squared deviations; a tiny negative from rounding is clipped to 0, a real one refused
    (no ``n`` numbers have that sum and sum of squares)."""
    square = total * total / n
    m2 = total_sq - square
    if m2 < -_rounding(n, total_sq, square) or (n == 1 and m2 > _rounding(n, total_sq, square)):
        rule = f"equal `{names[0]}`**2" if n == 1 else f"be at least `{names[0]}`**2 / `n` = {square:.17g}"
        raise ValueError(
            f"`{names[1]}` must {rule} (a sum of squares of {n} real values with that sum); got {total_sq}."
        )
    return max(m2, 0.0)


@dataclasses.dataclass(frozen=True, slots=True)
class ProportionStats:
    """Successes out of ``n`` trials (a conversion count and its denominator).

    Examples
    --------
    >>> ProportionStats(30, 400).rate
    0.075
    >>> ProportionStats(30, 400).merge(ProportionStats(10, 100))
    ProportionStats(successes=40, n=500)
    """

    successes: int
    n: int

    def __post_init__(self) -> None:
        successes = check_int("successes", self.successes)
        n = check_int("n", self.n)
        if successes > n:
            raise ValueError(f"`successes` must be at most `n` ({n}); got {successes}.")
        object.__setattr__(self, "successes", successes)
        object.__setattr__(self, "n", n)

    @property
    def rate(self) -> float:
        """``successes / n`` (NaN when ``n`` is 0)."""
        return self.successes / self.n if self.n else math.nan

    @classmethod
    def empty(cls) -> ProportionStats:
        """No trials yet; the identity of ``merge``."""
        return cls(0, 0)

    @classmethod
    def from_samples(cls, values: Any, *, nan_policy: str = "raise") -> ProportionStats:
        """From a 0/1 (or boolean) array of outcomes, one per unit.

        >>> ProportionStats.from_samples([1, 0, 0, 1])
        ProportionStats(successes=2, n=4)
        """
        return proportion_stats_from("values", values, nan_policy=nan_policy)

    def merge(self, other: ProportionStats) -> ProportionStats:
        """Both samples together."""
        _check_same_type(self, other)
        return ProportionStats(self.successes + other.successes, self.n + other.n)

    def update(self, values: Any) -> ProportionStats:
        """These stats with more 0/1 outcomes added (a new object)."""
        return self.merge(proportion_stats_from("values", _as_list(values)))

    def to_dict(self) -> dict[str, int]:
        """JSON-safe form; ``ProportionStats(**d)`` restores it."""
        return {"successes": self.successes, "n": self.n}


@dataclasses.dataclass(frozen=True, slots=True)
class MeanStats:
    """Count, mean and sample variance (``n - 1`` denominator) of a metric.

    Examples
    --------
    >>> MeanStats.from_aggregates(n=4, total=10.0, total_sq=30.0)
    MeanStats(n=4, mean=2.5, var=1.6666666666666667)
    """

    n: int
    mean: float
    var: float

    def __post_init__(self) -> None:
        n = check_int("n", self.n)
        mean = check_real("mean", self.mean)
        var = check_nonnegative("var", self.var)
        _check_small_n_variance(n, [("var", var)])
        if n == 0 and mean != 0.0:
            raise ValueError(f"`mean` must be 0 when `n` is 0; got {mean}.")
        object.__setattr__(self, "n", n)
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "var", var)

    @property
    def sd(self) -> float:
        """Sample standard deviation."""
        return math.sqrt(self.var)

    @classmethod
    def empty(cls) -> MeanStats:
        """No units yet; the identity of ``merge``."""
        return cls(0, 0.0, 0.0)

    @classmethod
    def from_samples(cls, values: Any, *, nan_policy: str = "raise") -> MeanStats:
        """From one value per unit.

        >>> MeanStats.from_samples([1.0, 2.0, 4.0]).mean
        2.3333333333333335
        """
        return mean_stats_from("values", values, nan_policy=nan_policy)

    @classmethod
    def from_aggregates(cls, *, n: int, total: float, total_sq: float) -> MeanStats:
        """From an engine's ``count``, ``sum`` and ``sum of squares``.

        Sums of squares lose precision when the mean is large relative to the spread; engines
        that can return the variance directly should use the field constructor instead.
        """
        n = check_int("n", n)
        total = check_real("total", total)
        total_sq = check_nonnegative("total_sq", total_sq)
        if n == 0:
            return cls.empty()
        m2 = _m2_from_sums(n, total, total_sq)
        return cls(n, total / n, m2 / (n - 1) if n > 1 else 0.0)

    def merge(self, other: MeanStats) -> MeanStats:
        """Both samples together (Chan et al.'s parallel update, exact up to rounding)."""
        return self._merged(other, "other")

    def _merged(self, other: MeanStats, name: str) -> MeanStats:
        # Errors name `name`: the argument that brought the other sample.
        _check_same_type(self, other)
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        n = self.n + other.n
        delta = other.mean - self.mean
        mean = self.mean + delta * other.n / n
        m2 = (
            self.var * (self.n - 1)
            + other.var * (other.n - 1)
            + delta * delta * self.n * other.n / n
        )
        if not math.isfinite(m2 / (n - 1)):
            raise ValueError(f"`{name}` put the merged variance beyond the float range "
                             f"(means {self.mean:g} and {other.mean:g}).")
        return MeanStats(n, mean, m2 / (n - 1))

    def update(self, values: Any) -> MeanStats:
        """These stats with more values added (a new object)."""
        return self._merged(mean_stats_from("values", _as_list(values)), "values")

    def to_dict(self) -> dict[str, float]:
        """JSON-safe form; ``MeanStats(**d)`` restores it."""
        return {"n": self.n, "mean": self.mean, "var": self.var}


@dataclasses.dataclass(frozen=True, slots=True)
class BivariateStats:
    """Two columns per unit, ``x`` and ``y``: count, means, sample variances and covariance.

    For ratio metrics ``x`` is the numerator and ``y`` the denominator (clicks and sessions per
    user); for CUPED ``x`` is the metric and ``y`` the pre-experiment covariate.

    Examples
    --------
    >>> s = BivariateStats.from_samples([1.0, 2.0, 3.0], [2.0, 4.0, 7.0])
    >>> round(s.cov, 6), round(s.correlation, 6)
    (2.5, 0.993399)
    """

    n: int
    mean_x: float
    mean_y: float
    var_x: float
    var_y: float
    cov: float

    def __post_init__(self) -> None:
        n = check_int("n", self.n)
        mean_x = check_real("mean_x", self.mean_x)
        mean_y = check_real("mean_y", self.mean_y)
        var_x = check_nonnegative("var_x", self.var_x)
        var_y = check_nonnegative("var_y", self.var_y)
        cov = check_real("cov", self.cov)
        _check_small_n_variance(n, [("var_x", var_x), ("var_y", var_y), ("cov", cov)])
        if n == 0 and (mean_x != 0.0 or mean_y != 0.0):
            raise ValueError(
                f"`mean_x` and `mean_y` must be 0 when `n` is 0; got {mean_x}, {mean_y}."
            )
        # Cauchy-Schwarz, with room for rounding in aggregates.
        bound = math.sqrt(var_x) * math.sqrt(var_y)  # the product var_x * var_y can underflow
        if abs(cov) > bound * (1 + 1e-9) + 1e-300:
            raise ValueError(
                f"`cov` must satisfy |`cov`| <= sqrt(`var_x` * `var_y`) = {bound}; got {cov}."
            )
        for name, value in (("n", n), ("mean_x", mean_x), ("mean_y", mean_y), ("var_x", var_x),
                            ("var_y", var_y), ("cov", cov)):
            object.__setattr__(self, name, value)

    @property
    def correlation(self) -> float:
        """Pearson correlation of ``x`` and ``y`` (NaN when either has zero variance)."""
        denominator = math.sqrt(self.var_x) * math.sqrt(self.var_y)
        return self.cov / denominator if denominator > 0 else math.nan

    @property
    def x(self) -> MeanStats:
        """The first column's ``MeanStats``."""
        return MeanStats(self.n, self.mean_x, self.var_x)

    @property
    def y(self) -> MeanStats:
        """The second column's ``MeanStats``."""
        return MeanStats(self.n, self.mean_y, self.var_y)

    @classmethod
    def empty(cls) -> BivariateStats:
        """No units yet; the identity of ``merge``."""
        return cls(0, 0.0, 0.0, 0.0, 0.0, 0.0)

    @classmethod
    def from_samples(cls, x: Any, y: Any, *, nan_policy: str = "raise") -> BivariateStats:
        """From paired values, one pair per unit (``nan_policy="omit"`` drops incomplete pairs)."""
        return bivariate_stats_from("x", x, "y", y, nan_policy=nan_policy)

    @classmethod
    def _from_arrays(cls, x_arr: npt.NDArray[np.float64], y_arr: npt.NDArray[np.float64],
                     ) -> BivariateStats:
        n = int(x_arr.size)
        if n == 0:
            return cls.empty()
        if n == 1:
            return cls(1, float(x_arr[0]), float(y_arr[0]), 0.0, 0.0, 0.0)
        # exact constants get exactly zero (co)variance, not rounding noise
        dx = np.zeros(n) if x_arr.min() == x_arr.max() else x_arr - x_arr.mean()
        dy = np.zeros(n) if y_arr.min() == y_arr.max() else y_arr - y_arr.mean()
        var_x, var_y = float(dx @ dx / (n - 1)), float(dy @ dy / (n - 1))
        cov = _clip_cov(float(dx @ dy / (n - 1)), var_x, var_y)
        return cls(n, float(x_arr.mean()), float(y_arr.mean()), var_x, var_y, cov)

    @classmethod
    def from_aggregates(
        cls,
        *,
        n: int,
        sum_x: float,
        sum_y: float,
        sum_xx: float,
        sum_yy: float,
        sum_xy: float,
    ) -> BivariateStats:
        """From an engine's count, sums, sums of squares and sum of cross-products."""
        n = check_int("n", n)
        sums = {name: check_real(name, value) for name, value in
                (("sum_x", sum_x), ("sum_y", sum_y), ("sum_xx", sum_xx), ("sum_yy", sum_yy),
                 ("sum_xy", sum_xy))}
        if n == 0:
            return cls.empty()
        m2_x = _m2_from_sums(n, sums["sum_x"], sums["sum_xx"], ("sum_x", "sum_xx"))
        m2_y = _m2_from_sums(n, sums["sum_y"], sums["sum_yy"], ("sum_y", "sum_yy"))
        cross = sums["sum_x"] * sums["sum_y"] / n
        m_xy = sums["sum_xy"] - cross
        # Cauchy-Schwarz: |sum of cross-deviations| <= sqrt(m2_x m2_y), up to rounding.
        slack = _rounding(n, sums["sum_xy"], cross, sums["sum_xx"], sums["sum_yy"])
        bound = math.sqrt(m2_x) * math.sqrt(m2_y)  # not sqrt(m2_x * m2_y): the product can underflow
        if abs(m_xy) - bound > slack:
            raise ValueError(
                f"`sum_xy` must be within {bound:.15g} of `sum_x` * `sum_y` / `n` = {cross:.17g} "
                f"(Cauchy-Schwarz with the squared deviations of {n} pairs); got {sums['sum_xy']}."
            )
        if n == 1:
            return cls(1, sums["sum_x"], sums["sum_y"], 0.0, 0.0, 0.0)
        var_x, var_y = m2_x / (n - 1), m2_y / (n - 1)
        cov = _clip_cov(m_xy / (n - 1), var_x, var_y)
        return cls(n, sums["sum_x"] / n, sums["sum_y"] / n, var_x, var_y, cov)

    def merge(self, other: BivariateStats) -> BivariateStats:
        """Both samples together (Chan et al.'s parallel update for co-moments)."""
        _check_same_type(self, other)
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        n = self.n + other.n
        weight = self.n * other.n / n
        dx = other.mean_x - self.mean_x
        dy = other.mean_y - self.mean_y
        m = n - 1
        var_x = (self.var_x * (self.n - 1) + other.var_x * (other.n - 1) + dx * dx * weight) / m
        var_y = (self.var_y * (self.n - 1) + other.var_y * (other.n - 1) + dy * dy * weight) / m
        cov = (self.cov * (self.n - 1) + other.cov * (other.n - 1) + dx * dy * weight) / m
        return BivariateStats(
            n,
            self.mean_x + dx * other.n / n,
            self.mean_y + dy * other.n / n,
            var_x,
            var_y,
            _clip_cov(cov, var_x, var_y),
        )

    def update(self, x: Any, y: Any) -> BivariateStats:
        """These stats with more pairs added (a new object)."""
        return self.merge(bivariate_stats_from("x", _as_list(x), "y", _as_list(y)))

    def to_dict(self) -> dict[str, float]:
        """JSON-safe form; ``BivariateStats(**d)`` restores it."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def _as_list(values: Any) -> Any:
    """One number as a one-element list (``update`` takes a single value or many)."""
    return [values] if isinstance(values, numbers.Number | np.generic) else values


def _finite_moments(name: str, array: npt.NDArray[np.float64]) -> tuple[float, float]:
    """Mean and sample variance of ``array``, or a ``ValueError`` naming ``name`` on overflow."""
    if array.size == 0:
        return 0.0, 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        mean = float(array.mean())
        var = float(array.var(ddof=1)) if array.size > 1 else 0.0
    if not (math.isfinite(mean) and math.isfinite(var)):
        raise ValueError(
            f"`{name}` must have a mean and variance a float can hold; got values up to "
            f"{float(np.abs(array).max())}."
        )
    return mean, var


def proportion_stats_from(name: str, values: Any, *, nan_policy: str = "raise") -> ProportionStats:
    """``ProportionStats`` of 0/1 ``values``, errors naming ``name`` (the caller's argument)."""
    array = as_float_array(name, values, nan_policy=nan_policy, min_size=0)
    if not np.all((array == 0.0) | (array == 1.0)):
        bad = array[(array != 0.0) & (array != 1.0)][0]
        raise ValueError(f"`{name}` must contain only 0 and 1; got {bad}.")
    return ProportionStats(int(array.sum()), int(array.size))


def mean_stats_from(name: str, values: Any, *, nan_policy: str = "raise") -> MeanStats:
    """``MeanStats`` of one value per unit, errors naming ``name`` (the caller's argument)."""
    array = as_float_array(name, values, nan_policy=nan_policy, min_size=0)
    n = int(array.size)
    if n == 0:
        return MeanStats.empty()
    if array.min() == array.max():  # exact constants get exactly zero variance
        return MeanStats(n, float(array[0]), 0.0)
    mean, var = _finite_moments(name, array)
    return MeanStats(n, mean, var)


def bivariate_stats_from(
    name_x: str, x: Any, name_y: str, y: Any, *, nan_policy: str = "raise"
) -> BivariateStats:
    """``BivariateStats`` of paired values, errors naming ``name_x``/``name_y``."""
    x_arr, y_arr = as_paired_float_arrays(name_x, x, name_y, y, nan_policy=nan_policy, min_size=0)
    _finite_moments(name_x, x_arr)
    _finite_moments(name_y, y_arr)
    return BivariateStats._from_arrays(x_arr, y_arr)


def _clip_cov(cov: float, var_x: float, var_y: float) -> float:
    # |cov| <= sqrt(var_x var_y) holds exactly; clipping removes only rounding (and underflow).
    bound = math.sqrt(var_x) * math.sqrt(var_y)  # not sqrt(var_x * var_y): the product can underflow
    return min(max(cov, -bound), bound)


def _check_same_type(a: object, b: object) -> None:
    if type(a) is not type(b):
        raise TypeError(
            f"`other` must be a {type(a).__name__} to merge; got {type(b).__name__}."
        )
