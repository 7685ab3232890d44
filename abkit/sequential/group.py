"""Group-sequential designs: efficacy and futility boundaries on the z scale.

Boundaries come from recursive numerical integration (Armitage, McPherson and Rowe, 1969;
Jennison and Turnbull, 2000, ch. 19) of the joint distribution of the z statistics at the looks.
:class:`GroupSequentialDesign` spends alpha with a spending function of the information fraction
(Lan and DeMets), so looks at unplanned information get boundaries computed from the actual
fractions; :func:`wang_tsiatis` gives the classic fixed-shape boundaries (O'Brien-Fleming,
Pocock). Two-sided designs spend ``alpha / 2`` on each side, as rpact and gsDesign do.

Examples
--------
>>> d = GroupSequentialDesign(5, alpha=0.05)
>>> [round(b, 3) for b in d.bounds]
[4.877, 3.357, 2.68, 2.29, 2.031]
>>> round(d.alpha_spent[-1], 6)
0.05
"""

from __future__ import annotations

import abc
import dataclasses
import math
from typing import Any

import numpy as np
from scipy import optimize, special

from abkit._inference import fixed_horizon_drift, tail_quantile
from abkit._progress import progress_bar, show_progress
from abkit._results import ConfidenceInterval, Result
from abkit._validation import (
    as_float_array,
    check_alternative,
    check_choice,
    check_int,
    check_open_unit,
    check_real,
)
from abkit.errors import ConvergenceError
from abkit.sequential import _integration as integ
from abkit.sequential.spending import SPENDING_FUNCTIONS, named_spending_function

__all__ = [
    "GroupSequentialAnalysis",
    "GroupSequentialDesign",
    "GroupSequentialSampleSize",
    "WangTsiatisDesign",
    "peeking_type1_error",
    "wang_tsiatis",
]

DECISIONS = ("efficacy", "futility", "continue")
FloatArray = integ.FloatArray


# Designs cost about K**2 integrations: 400 looks take a second; beyond this no design is useful.
MAX_LOOKS = 1000
# peeking_type1_error needs one step of the recursion per look (a few milliseconds): beyond this
# many looks the answer would take minutes (continuous monitoring is what always-valid tests are for).
MAX_PEEKING_LOOKS = 10_000


def check_information(
    information: Any, *, max_looks: int = MAX_PEEKING_LOOKS, name: str = "information"
) -> FloatArray:
    """Information fractions: an int ``K`` (equal looks) or increasing values in ``(0, 1]``,
    at most ``max_looks`` of them."""
    if isinstance(information, int | np.integer) and not isinstance(information, bool):
        if information > max_looks:  # before check_int, whose own limit is the int64 range
            raise ValueError(f"`{name}` must be at most {max_looks} looks; got {int(information)}.")
        k = check_int(name, information, minimum=1)
        return np.arange(1, k + 1, dtype=np.float64) / k
    fractions = as_float_array(name, information)
    if fractions.size > max_looks:
        raise ValueError(f"`{name}` must be at most {max_looks} looks; got {fractions.size}.")
    if np.any(fractions <= 0.0):
        raise ValueError(f"`{name}` must be greater than 0; got {fractions}.")
    if np.any(np.diff(fractions) <= 0.0):
        raise ValueError(f"`{name}` must be strictly increasing; got {fractions}.")
    if fractions[-1] > 1.0 + 1e-9:
        raise ValueError(
            f"`{name}` must not go past the maximum information (fraction 1); got {fractions[-1]}."
        )
    return np.minimum(fractions, 1.0)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class GroupSequentialSampleSize(Result):
    """Maximum and expected sample sizes of a design, from the fixed-horizon sample size."""

    n_fixed: float
    n_max: float
    inflation_factor: float
    expected_n_h0: float
    expected_n_h1: float
    power: float


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class GroupSequentialAnalysis(Result):
    """An interim (or final) analysis of a group-sequential design.

    ``decision`` is ``"efficacy"`` (an efficacy bound was crossed at ``stopped_at``),
    ``"futility"`` (a futility bound was crossed, or the final look ended without efficacy) or
    ``"continue"``. ``repeated_cis`` are the repeated confidence intervals, one per look, which
    hold simultaneously at level ``1 - alpha``; ``ci`` is the one at the latest look.
    """

    decision: str
    look: int
    stopped_at: int | None
    z: tuple[float, ...]
    bounds: tuple[float, ...]
    futility_bounds: tuple[float, ...] | None
    information: tuple[float, ...]
    estimate: float
    ci: ConfidenceInterval
    repeated_cis: tuple[ConfidenceInterval, ...]
    alternative: str
    alpha: float


class _Design(abc.ABC):
    """Shared machinery of the designs: probabilities, power, sample size and analysis."""

    information: tuple[float, ...]
    alpha: float
    alternative: str
    bounds: tuple[float, ...]
    futility_bounds: tuple[float, ...] | None
    alpha_spent: tuple[float, ...]

    # -- subclass hooks -------------------------------------------------------------------
    @abc.abstractmethod
    def _upper_bounds(self, fractions: FloatArray) -> FloatArray:
        """Efficacy bounds (on the 'greater' scale) at these information fractions."""

    def _lower_futility(self, fractions: FloatArray, upper: FloatArray) -> FloatArray | None:
        return None

    # -- helpers ----------------------------------------------------------------------------
    @property
    def _sided_alpha(self) -> float:
        return self.alpha / 2.0 if self.alternative == "two-sided" else self.alpha

    @property
    def _fractions(self) -> FloatArray:
        return np.asarray(self.information, dtype=np.float64)

    def _upper(self) -> FloatArray:
        return np.abs(np.asarray(self.bounds, dtype=np.float64))

    def _lower(self) -> FloatArray:
        """Lower edge of the continuation region, on the 'greater' scale."""
        upper = self._upper()
        if self.futility_bounds is not None:
            sign = -1.0 if self.alternative == "less" else 1.0
            return np.minimum(sign * np.asarray(self.futility_bounds), upper)
        return -upper if self.alternative == "two-sided" else np.full(upper.size, -math.inf)

    def _power_at(self, theta: float) -> float:
        up, _ = integ.crossing_probabilities(self._fractions, self._upper(), self._lower(), theta)
        return float(up.sum())

    def drift(self, power: float) -> float:
        """Drift ``theta`` (mean of the final z statistic) at which the design has ``power``.

        Only crossings of the efficacy bound in the direction of the alternative count.
        """
        power = check_open_unit("power", power)
        if power <= self._sided_alpha:
            raise ValueError(f"`power` must exceed the one-sided alpha {self._sided_alpha}; got {power}.")
        return float(optimize.brentq(lambda th: self._power_at(th) - power, 0.0, 40.0, xtol=1e-12))

    def inflation_factor(self, power: float) -> float:
        """Maximum information relative to a fixed-horizon test with the same one-sided alpha and power.

        Examples
        --------
        >>> round(wang_tsiatis(5, alpha=0.05, delta=0.5).inflation_factor(0.8), 3)
        1.229
        """
        theta = self.drift(power)
        fixed = fixed_horizon_drift(self._sided_alpha, power)
        return float((theta / fixed) ** 2)

    def stopping_probabilities(self, theta: float = 0.0) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Probabilities of stopping for efficacy and for futility (or the other side) at each look.

        ``theta`` is the drift (mean of the final z statistic, in the alternative's direction).
        """
        theta = check_real("theta", theta)
        up, low = integ.crossing_probabilities(self._fractions, self._upper(), self._lower(), theta)
        return tuple(float(p) for p in up), tuple(float(p) for p in low)

    def expected_information(self, theta: float = 0.0) -> float:
        """Expected information at stopping, as a fraction of the maximum, under drift ``theta``."""
        up, low = self.stopping_probabilities(theta)
        stop = np.asarray(up) + np.asarray(low)
        fractions = self._fractions
        early = stop[:-1]
        return float(early @ fractions[:-1] + (1.0 - early.sum()) * fractions[-1])

    def sample_size(self, n_fixed: float, *, power: float = 0.8) -> GroupSequentialSampleSize:
        """Maximum and expected sample sizes given the fixed-horizon ``n_fixed`` for ``power``.

        Examples
        --------
        >>> d = GroupSequentialDesign(3, alpha=0.025, alternative="greater")
        >>> round(d.sample_size(784.887973434909).n_max, 2)
        794.93
        """
        n_fixed = check_real("n_fixed", n_fixed)
        theta = self.drift(power)
        fixed = fixed_horizon_drift(self._sided_alpha, power)
        inflation = float((theta / fixed) ** 2)
        n_max = n_fixed * inflation
        return GroupSequentialSampleSize(
            n_fixed=n_fixed,
            n_max=n_max,
            inflation_factor=inflation,
            expected_n_h0=n_max * self.expected_information(0.0),
            expected_n_h1=n_max * self.expected_information(theta),
            power=power,
        )

    def analyze(
        self, estimates: Any, standard_errors: Any, *, information: Any = None
    ) -> GroupSequentialAnalysis:
        """Decision and repeated confidence intervals from the estimates at the looks so far.

        Parameters
        ----------
        estimates, standard_errors
            The effect estimate and its standard error at each look so far (cumulative data).
        information
            The information fractions actually reached at those looks (relative to the planned
            maximum). ``None`` means the planned fractions. Boundaries are recomputed at these
            fractions, so unplanned looks keep the error rate of the spending function.

        Examples
        --------
        >>> d = GroupSequentialDesign(3, alpha=0.05)
        >>> d.analyze([0.5, 0.9], [0.2, 0.14]).decision
        'efficacy'
        """
        est = as_float_array("estimates", estimates)
        se = as_float_array("standard_errors", standard_errors)
        if est.size != se.size:
            raise ValueError(
                f"`estimates` and `standard_errors` must have the same length; got {est.size} and {se.size}."
            )
        if np.any(se <= 0.0):
            raise ValueError(f"`standard_errors` must be greater than 0; got {se}.")
        if information is None:
            if est.size > len(self.information):
                raise ValueError(
                    f"`estimates` must have at most {len(self.information)} looks (the design's); "
                    f"got {est.size}; pass `information` for unplanned looks."
                )
            fractions = self._fractions[: est.size]
        else:
            fractions = check_information(information, max_looks=MAX_LOOKS)
            if fractions.size != est.size:
                raise ValueError(
                    f"`information` and `estimates` must have the same length; got {fractions.size} "
                    f"and {est.size}."
                )
        upper = self._upper_bounds(fractions)
        futility = self._lower_futility(fractions, upper)
        return self._decide(est, se, fractions, upper, futility)

    def _decide(
        self,
        est: FloatArray,
        se: FloatArray,
        fractions: FloatArray,
        upper: FloatArray,
        futility: FloatArray | None,
    ) -> GroupSequentialAnalysis:
        sign = -1.0 if self.alternative == "less" else 1.0
        z = est / se
        directed = sign * z
        crossed = np.abs(z) >= upper if self.alternative == "two-sided" else directed >= upper
        futile = directed <= futility if futility is not None else np.zeros(z.size, dtype=bool)
        decision, stopped_at = "continue", None
        for k in range(z.size):
            if crossed[k] or futile[k]:
                decision, stopped_at = ("efficacy" if crossed[k] else "futility"), k + 1
                break
        if decision == "continue" and fractions[-1] >= 1.0 - 1e-9:
            decision, stopped_at = "futility", z.size
        cis = tuple(self._rci(float(e), float(s), float(b)) for e, s, b in zip(est, se, upper, strict=True))
        return GroupSequentialAnalysis(
            decision=decision,
            look=int(z.size),
            stopped_at=stopped_at,
            z=tuple(float(v) for v in z),
            bounds=tuple(float(sign * b) for b in upper),
            futility_bounds=None if futility is None else tuple(float(sign * a) for a in futility),
            information=tuple(float(t) for t in fractions),
            estimate=float(est[-1]),
            ci=cis[-1],
            repeated_cis=cis,
            alternative=self.alternative,
            alpha=self.alpha,
        )

    def _rci(self, estimate: float, se: float, bound: float) -> ConfidenceInterval:
        half = bound * se
        if self.alternative == "two-sided":
            return ConfidenceInterval(estimate - half, estimate + half)
        if self.alternative == "greater":
            return ConfidenceInterval(estimate - half, math.inf)
        return ConfidenceInterval(-math.inf, estimate + half)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary of the design."""
        return {
            "type": type(self).__name__,
            "information": list(self.information),
            "alpha": self.alpha,
            "alternative": self.alternative,
            "bounds": list(self.bounds),
            "futility_bounds": None if self.futility_bounds is None else list(self.futility_bounds),
            "alpha_spent": list(self.alpha_spent),
        }

    def __repr__(self) -> str:
        rows = [f"{type(self).__name__}(alpha={self.alpha}, alternative={self.alternative!r})"]
        rows.append(
            "  look  information  bound     alpha_spent" + ("  futility" if self.futility_bounds else "")
        )
        for k, (t, b, a) in enumerate(zip(self.information, self.bounds, self.alpha_spent, strict=True)):
            extra = f"  {self.futility_bounds[k]:8.4f}" if self.futility_bounds else ""
            rows.append(f"  {k + 1:4d}  {t:11.4f}  {b:8.4f}  {a:11.6g}{extra}")
        return "\n".join(rows)


MIN_ALPHA = 1e-10  # below, the boundaries sit where the integration grid is too coarse


def _check_design_alpha(alpha: Any) -> float:
    # The recursive integration (Jennison & Turnbull's grid) keeps ~1e-6 relative accuracy for
    # bounds to about z = 10; alpha 1e-10 puts the final bound near 6.5, well inside.
    result = check_open_unit("alpha", alpha)
    if result < MIN_ALPHA:
        raise ValueError(f"`alpha` must be at least {MIN_ALPHA:g} for a group sequential design "
                         f"(the boundary integration's accurate range); got {result}.")
    return result


class GroupSequentialDesign(_Design):
    """A group-sequential design with alpha spending (and optional beta spending for futility).

    Parameters
    ----------
    information
        Planned information fractions (increasing, in ``(0, 1]``, the last one 1), or an int
        ``K`` for ``K`` equally spaced looks.
    alpha
        Total type-I error; a two-sided design spends ``alpha / 2`` on each side.
    alternative
        ``"two-sided"`` (symmetric bounds on ``|Z|``), ``"greater"`` (reject for large ``Z``) or
        ``"less"`` (negative bounds; reject for small ``Z``).
    spending, spending_param
        Alpha spending function (:func:`abkit.sequential.spending.spending_function`):
        ``"obrien-fleming"``, ``"pocock"``, ``"hsd"`` (gamma, default -4) or ``"power"``
        (rho, default 3).
    futility, futility_param
        Optional beta-spending function (same names) giving non-binding futility bounds for a
        one-sided design: the efficacy bounds ignore them (so type-I error holds whether or not
        one stops for futility), and the drift is chosen so the last futility bound meets the
        last efficacy bound at ``power``.
    power
        Target power of the futility design (ignored without ``futility``).

    Attributes
    ----------
    bounds
        Efficacy boundaries on the z scale, one per look (negative for ``"less"``).
    futility_bounds
        Futility boundaries (stop when ``Z`` is on the null side of them), or ``None``.
    alpha_spent
        Cumulative type-I error spent by each look (both tails for two-sided designs).

    Examples
    --------
    >>> d = GroupSequentialDesign([0.3, 0.7, 1.0], alpha=0.025, alternative="greater", spending="pocock")
    >>> round(d.alpha_spent[0], 5)
    0.01039
    >>> f = GroupSequentialDesign(3, alpha=0.025, alternative="greater", futility="obrien-fleming")
    >>> f.futility_bounds[-1] == f.bounds[-1]
    True
    """

    def __init__(
        self,
        information: Any,
        *,
        alpha: float = 0.05,
        alternative: str = "two-sided",
        spending: str = "obrien-fleming",
        spending_param: float | None = None,
        futility: str | None = None,
        futility_param: float | None = None,
        power: float = 0.8,
    ) -> None:
        fractions = check_information(information, max_looks=MAX_LOOKS)
        if abs(fractions[-1] - 1.0) > 1e-9:
            raise ValueError(f"`information` must end at 1 (the maximum); got {fractions[-1]}.")
        self.information = tuple(float(t) for t in fractions)
        self.alpha = _check_design_alpha(alpha)
        self.alternative = check_alternative(alternative)
        self.spending = check_choice("spending", spending, SPENDING_FUNCTIONS)
        self.spending_param = spending_param
        self._spend = named_spending_function(spending, spending_param, names=("spending", "spending_param"))
        self.power = check_open_unit("power", power)
        self.futility = None if futility is None else check_choice("futility", futility, SPENDING_FUNCTIONS)
        self.futility_param = futility_param
        if self.futility is not None and self.alternative == "two-sided":
            raise ValueError(
                "`futility` needs a one-sided `alternative` ('greater' or 'less'); got 'two-sided'."
            )
        self._beta_spend = None if futility is None else named_spending_function(
            futility, futility_param, names=("futility", "futility_param"))
        upper, spent = self._solve_upper(fractions)
        sides = 2.0 if self.alternative == "two-sided" else 1.0
        self.alpha_spent = tuple(float(a) for a in sides * np.cumsum(spent))
        self.futility_theta: float | None = None
        lower = None
        if self._beta_spend is not None:
            self.futility_theta = self._solve_futility_drift(fractions, upper)
            lower = self._lower_futility(fractions, upper)
        sign = -1.0 if self.alternative == "less" else 1.0
        self.bounds = tuple(float(sign * b) for b in upper)
        self.futility_bounds = None if lower is None else tuple(float(sign * a) for a in lower)

    def _solve_upper(self, fractions: FloatArray) -> tuple[FloatArray, FloatArray]:
        cumulative = self._spend(fractions, self._sided_alpha)
        increments = np.diff(np.concatenate(([0.0], cumulative)))
        return integ.efficacy_bounds(fractions, increments, self.alternative == "two-sided")

    def _upper_bounds(self, fractions: FloatArray) -> FloatArray:
        return self._solve_upper(fractions)[0]

    def _beta_increments(self, fractions: FloatArray) -> FloatArray:
        assert self._beta_spend is not None
        cumulative = self._beta_spend(fractions, 1.0 - self.power)
        return np.diff(np.concatenate(([0.0], cumulative)))

    def _solve_futility_drift(self, fractions: FloatArray, upper: FloatArray) -> float:
        increments = self._beta_increments(fractions)

        def gap(theta: float) -> float:
            lower = integ.futility_bounds(fractions, upper, increments, theta)
            return float(lower[-1] - upper[-1])

        fixed = fixed_horizon_drift(self._sided_alpha, self.power)
        try:
            return float(optimize.brentq(gap, 0.5 * fixed, 2.0 * fixed, xtol=1e-12))
        except ValueError as exc:  # pragma: no cover - the bracket holds for any sane design
            raise ConvergenceError("Could not find the drift that joins the futility bounds.") from exc

    def _lower_futility(self, fractions: FloatArray, upper: FloatArray) -> FloatArray | None:
        if self.futility_theta is None:
            return None
        lower = integ.futility_bounds(fractions, upper, self._beta_increments(fractions), self.futility_theta)
        lower = np.minimum(lower, upper)
        if fractions[-1] >= 1.0 - 1e-9:
            lower[-1] = upper[-1]
        return lower


class WangTsiatisDesign(_Design):
    """Classic Wang-Tsiatis boundaries ``c_k = C t_k**(delta - 1/2)``; see :func:`wang_tsiatis`."""

    def __init__(
        self, information: Any, *, alpha: float = 0.05, delta: float = 0.0, alternative: str = "two-sided"
    ) -> None:
        fractions = check_information(information, max_looks=MAX_LOOKS)
        self.information = tuple(float(t) for t in fractions)
        self.alpha = _check_design_alpha(alpha)
        self.delta = check_real("delta", delta)
        if not DELTA_RANGE[0] <= self.delta <= DELTA_RANGE[1]:
            raise ValueError(f"`delta` must be in [{DELTA_RANGE[0]}, {DELTA_RANGE[1]}] (rpact's "
                             f"validated range for Wang-Tsiatis); got {self.delta}.")
        self.alternative = check_alternative(alternative)
        self.futility_bounds = None
        two_sided = self.alternative == "two-sided"
        shape = fractions ** (self.delta - 0.5)

        def excess(c: float) -> float:
            up, _ = integ.crossing_probabilities(
                fractions, c * shape, -c * shape if two_sided else np.full(shape.size, -math.inf)
            )
            return float(up.sum()) - self._sided_alpha

        # The root lies between the one-look bound at the loosest look (one look alone already
        # crosses with probability alpha) and the Bonferroni bound at the tightest (the looks
        # together cross with probability at most alpha), for any alpha a float holds.
        side = self._sided_alpha
        low = max(0.999 * float(-special.ndtri(side)) / shape.max(), 1e-9)
        high = 1.001 * float(-special.ndtri(side / shape.size)) / shape.min()
        if excess(low) < 0.0:  # one-sided alpha above the chance of ever crossing 0
            raise ValueError(f"`alpha` must be below {self._sided_alpha + excess(low):.4g} for "
                             f"these looks; got {self.alpha}.")
        self.constant = float(optimize.brentq(excess, low, high, xtol=1e-12))
        upper = self.constant * shape
        lower = -upper if two_sided else np.full(upper.size, -math.inf)
        up, _ = integ.crossing_probabilities(fractions, upper, lower)
        sides = 2.0 if two_sided else 1.0
        self.alpha_spent = tuple(float(a) for a in sides * np.cumsum(up))
        sign = -1.0 if self.alternative == "less" else 1.0
        self.bounds = tuple(float(sign * b) for b in upper)

    def _upper_bounds(self, fractions: FloatArray) -> FloatArray:
        # The design's constant keeps the boundary's shape in t at unplanned looks.
        return np.asarray(self.constant * fractions ** (self.delta - 0.5), dtype=np.float64)


DELTA_RANGE = (-0.5, 1.0)  # rpact's validated range for the Wang-Tsiatis delta


def wang_tsiatis(
    k: Any, *, alpha: float = 0.05, delta: float = 0.0, alternative: str = "two-sided"
) -> WangTsiatisDesign:
    """Wang-Tsiatis boundaries for ``k`` looks (an int for equal spacing, or the fractions).

    ``delta = 0`` gives O'Brien-Fleming (``c_k = C sqrt(K / k)``), ``delta = 0.5`` Pocock (a
    constant bound). The constant ``C`` is solved so that the total type-I error is ``alpha``
    (``alpha / 2`` per side when two-sided). At unplanned looks, :meth:`~WangTsiatisDesign.analyze`
    keeps the design's constant and shape (no spending function to recompute from).

    Examples
    --------
    >>> [round(b, 3) for b in wang_tsiatis(2, alpha=0.05, delta=0.5).bounds]
    [2.178, 2.178]
    >>> round(wang_tsiatis(4, alpha=0.05, delta=0.0).constant, 3)
    2.024
    """
    check_information(k, max_looks=MAX_LOOKS, name="k")
    return WangTsiatisDesign(k, alpha=alpha, delta=delta, alternative=alternative)


_PROGRESS_LOOKS = 500  # looks above which a watched peeking_type1_error shows a bar (~1 s)


def peeking_type1_error(information: Any, *, alpha: float = 0.05, alternative: str = "two-sided",
                        progress: bool | None = None) -> float:
    """Type-I error of testing at the fixed level ``alpha`` at every look (naive peeking).

    ``progress`` shows a tqdm bar over the looks; ``None`` (default): above 500 looks, when
    standard error is a terminal or a notebook. ``TQDM_DISABLE=1`` hides it.

    Examples
    --------
    >>> round(peeking_type1_error(5), 3)
    0.142
    """
    fractions = check_information(information)
    alpha = check_open_unit("alpha", alpha)
    alternative = check_alternative(alternative)
    two_sided = alternative == "two-sided"
    show = show_progress(progress, work=fractions.size, threshold=_PROGRESS_LOOKS)
    z = tail_quantile(alpha / 2.0 if two_sided else alpha)
    upper = np.full(fractions.size, z)
    lower = -upper if two_sided else np.full(fractions.size, -math.inf)
    with progress_bar(show, total=fractions.size, desc="peeking_type1_error", unit="look") as advance:
        up, low = integ.crossing_probabilities(fractions, upper, lower, advance=advance)
    return float(up.sum() + low.sum())
