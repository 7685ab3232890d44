"""Always-valid inference: the mixture SPRT and asymptotic confidence sequences.

Both work on Stats (``MeanStats`` or ``ProportionStats`` per arm), so they run from a router's
running counts as well as from arrays: look as often as you like, the error stays at ``alpha``.

- :func:`msprt` / :class:`MSPRT`: the normal-mixture sequential probability ratio test of
  Johari, Koomen, Pekelis and Walsh (2017, 2022) for the difference in means or proportions.
  With ``s2 = Var(effect estimate)`` and a ``N(theta0, tau2)`` mixing prior on the effect,
  ``Lambda = sqrt(s2 / (s2 + tau2)) exp(tau2 (d - theta0)^2 / (2 s2 (s2 + tau2)))``; the
  always-valid p-value is ``min(1, 1 / Lambda)`` and the confidence sequence is
  ``{theta: Lambda(theta) < 1 / alpha}``. With ``n`` per arm, ``s2 = V / n`` recovers their
  two-stream form ``sqrt(V / (V + n tau2)) exp(n^2 tau2 (d - theta0)^2 / (2 V (V + n tau2)))``.
- :func:`confidence_sequence`: the asymptotic confidence sequence of Waudby-Smith et al. (2023)
  with the normal mixture of Howard et al. (2021) tuned at ``tuning_n`` units, as GrowthBook's
  sequential testing (and Eppo's) computes it.

Examples
--------
>>> from abkit import ProportionStats
>>> r = msprt(ProportionStats(500, 5000), ProportionStats(600, 5000), tau2=1e-4)
>>> round(r.pvalue, 6)
0.04781
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import numpy as np
from scipy import special

from abkit._inference import clip_interval, warn_degenerate
from abkit._results import ConfidenceInterval, Result, object_html, object_repr
from abkit._state import dump_state, envelope_from_document, parse_json
from abkit._validation import check_choice, check_int, check_open_unit, check_positive, check_real
from abkit.errors import StateError
from abkit.stats import MeanStats, ProportionStats

__all__ = [
    "MSPRT",
    "ConfidenceSequenceResult",
    "MSPRTResult",
    "confidence_sequence",
    "msprt",
    "msprt_tau2",
]

ArmStats = MeanStats | ProportionStats
_STATE_VERSION = 1
"""Version 1: the envelope of :mod:`abkit._state`; the flat ``to_dict`` of abkit 0.1 is still read."""


def _arm_moments(name: str, stats: Any) -> tuple[int, float, float]:
    """``(n, mean, per-unit variance)``; proportions use ``p (1 - p)`` (no ``n - 1``)."""
    if isinstance(stats, ProportionStats):
        rate = stats.rate
        return stats.n, rate, rate * (1.0 - rate) if stats.n else math.nan
    if isinstance(stats, MeanStats):
        return stats.n, stats.mean, stats.var
    raise TypeError(f"`{name}` must be a MeanStats or ProportionStats; got {type(stats).__name__}.")


def _pair(control: Any, treatment: Any) -> tuple[tuple[int, float, float], tuple[int, float, float]]:
    a = _arm_moments("control", control)
    b = _arm_moments("treatment", treatment)
    if type(control) is not type(treatment):
        raise TypeError(
            "`control` and `treatment` must be the same kind of Stats; got "
            f"{type(control).__name__} and {type(treatment).__name__}."
        )
    return a, b


def _in_range(ci: ConfidenceInterval, control: Any, difference: str = "absolute") -> ConfidenceInterval:
    """For proportions, ``ci`` clipped to the range of the difference of rates: [-1, 1] for
    ``treatment - control`` and [-1, inf) for ``treatment / control - 1`` (R's ``prop.test``
    clips a difference of rates the same way); means are unbounded."""
    if not isinstance(control, ProportionStats):
        return ci
    return clip_interval(ci, -1.0, 1.0 if difference == "absolute" else math.inf)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class MSPRTResult(Result):
    """The mixture SPRT at one look: ``pvalue`` is always valid at this look.

    ``ci`` is the confidence sequence at this look (``1 - alpha``), clipped to [-1, 1] for
    proportions (the range of a difference of rates, as R's ``prop.test``); ``reject`` is
    ``pvalue <= alpha``.
    """

    effect: float
    ci: ConfidenceInterval
    pvalue: float
    log_likelihood_ratio: float
    reject: bool
    se: float
    n_control: int
    n_treatment: int
    tau2: float
    theta0: float
    alpha: float
    method: str


def msprt_log_likelihood_ratio(effect: Any, se2: Any, tau2: float, theta0: float) -> Any:
    """Log of the mixture likelihood ratio from the effect estimate and its variance (arrays too).

    An effect so far from ``theta0`` that the ratio exceeds the float range gives ``inf`` (its
    p-value is 0), not an overflow error.
    """
    distance = np.subtract(effect, theta0, dtype=np.float64)
    with np.errstate(over="ignore"):
        quadratic = tau2 / (se2 + tau2) * np.square(distance) / (2.0 * se2)
    return 0.5 * np.log(se2 / (se2 + tau2)) + quadratic


def msprt_halfwidth(se2: Any, tau2: float, alpha: float) -> Any:
    """Half-width of the mSPRT confidence sequence ``{theta: Lambda(theta) < 1/alpha}`` (arrays too)."""
    return np.sqrt(se2 * (se2 + tau2) / tau2 * (np.log((se2 + tau2) / se2) + 2.0 * math.log(1.0 / alpha)))


def msprt(
    control: Any,
    treatment: Any,
    *,
    tau2: float,
    sigma2: float | None = None,
    theta0: float = 0.0,
    alpha: float = 0.05,
) -> MSPRTResult:
    """Normal-mixture SPRT for ``treatment - control`` (means or proportions).

    Parameters
    ----------
    control, treatment
        ``MeanStats`` or ``ProportionStats`` (both the same kind), cumulative up to this look.
    tau2
        Variance of the normal mixing distribution of the effect (Johari et al.'s ``tau^2``);
        choose it near the squared effect you expect (see :func:`msprt_tau2`).
    sigma2
        Known per-observation variance in each arm; overrides the sample variances (or
        ``p (1 - p)`` for proportions).
    theta0
        The effect under the null hypothesis.
    alpha
        Level of the confidence sequence and of ``reject``.

    Returns
    -------
    MSPRTResult

    Examples
    --------
    >>> from abkit import MeanStats
    >>> r = msprt(MeanStats(200, 0.0, 4.0), MeanStats(200, 0.5, 4.0), tau2=1.0, sigma2=4.0)
    >>> round(r.log_likelihood_ratio, 6), r.reject
    (1.375759, False)
    """
    (n_a, m_a, v_a), (n_b, m_b, v_b) = _pair(control, treatment)
    tau2 = check_positive("tau2", tau2)
    theta0 = check_real("theta0", theta0)
    alpha = check_open_unit("alpha", alpha)
    if sigma2 is not None:
        sigma2 = check_positive("sigma2", sigma2)
        v_a = v_b = sigma2
    method = "msprt-normal" if isinstance(control, MeanStats) else "msprt-bernoulli"
    se2 = v_a / n_a + v_b / n_b if n_a > 0 and n_b > 0 else math.nan
    effect = m_b - m_a if n_a and n_b else math.nan
    if se2 > 0.0:
        log_lr = float(msprt_log_likelihood_ratio(effect, se2, tau2, theta0))
        pvalue = min(1.0, math.exp(-log_lr))
        half = float(msprt_halfwidth(se2, tau2, alpha))
    else:
        warn_degenerate("msprt needs at least one unit and a positive variance in each arm; fields are NaN.")
        log_lr = pvalue = half = se2 = math.nan
    return MSPRTResult(
        effect=effect,
        ci=_in_range(ConfidenceInterval(effect - half, effect + half), control),
        pvalue=pvalue,
        log_likelihood_ratio=log_lr,
        reject=pvalue <= alpha,
        se=math.sqrt(se2),
        n_control=n_a,
        n_treatment=n_b,
        tau2=tau2,
        theta0=theta0,
        alpha=alpha,
        method=method,
    )


class MSPRT:
    """Streaming mixture SPRT: feed increments of Stats as they arrive, look any time.

    ``pvalue`` is the running minimum of the per-look always-valid p-values and ``ci`` the
    running intersection of the confidence sequence, both still valid at ``alpha``. The state
    is the JSON envelope of :mod:`abkit._state` (``to_json`` / ``from_json``, or ``to_dict`` /
    ``from_dict``), so router instances can persist it.

    Examples
    --------
    >>> from abkit import ProportionStats
    >>> test = MSPRT(tau2=1e-4)
    >>> _ = test.update(ProportionStats(100, 1000), ProportionStats(130, 1000))
    >>> r = test.update(ProportionStats(100, 1000), ProportionStats(125, 1000))
    >>> test.looks, test.treatment.n, test.pvalue <= r.pvalue
    (2, 2000, True)
    """

    def __init__(
        self, *, tau2: float, sigma2: float | None = None, theta0: float = 0.0, alpha: float = 0.05
    ) -> None:
        self.tau2 = check_positive("tau2", tau2)
        self.sigma2 = None if sigma2 is None else check_positive("sigma2", sigma2)
        self.theta0 = check_real("theta0", theta0)
        self.alpha = check_open_unit("alpha", alpha)
        self.control: ArmStats | None = None
        self.treatment: ArmStats | None = None
        self.looks = 0
        self.pvalue = 1.0
        self.ci = ConfidenceInterval(-math.inf, math.inf)

    def update(self, control: Any, treatment: Any) -> MSPRTResult:
        """Add new data for each arm (Stats of the new units only) and look.

        Returns the result at this look; ``self.pvalue`` and ``self.ci`` accumulate.
        """
        _pair(control, treatment)
        self.control = control if self.control is None else self.control.merge(control)
        self.treatment = treatment if self.treatment is None else self.treatment.merge(treatment)
        result = msprt(
            self.control,
            self.treatment,
            tau2=self.tau2,
            sigma2=self.sigma2,
            theta0=self.theta0,
            alpha=self.alpha,
        )
        self.looks += 1
        if not math.isnan(result.pvalue):
            self.pvalue = min(self.pvalue, result.pvalue)
            self.ci = ConfidenceInterval(max(self.ci.low, result.ci.low), min(self.ci.high, result.ci.high))
        self.ci = _in_range(self.ci, self.control)  # proportions: within [-1, 1] from the first look
        return result

    @property
    def reject(self) -> bool:
        """Whether the null has been rejected at some look (``pvalue <= alpha``)."""
        return self.pvalue <= self.alpha

    def _repr_items(self) -> list[tuple[str, Any]]:
        n = None if self.control is None or self.treatment is None else (self.control.n, self.treatment.n)
        return [("tau2", self.tau2), ("sigma2", self.sigma2), ("theta0", self.theta0), ("alpha", self.alpha),
                ("looks", self.looks), ("n", n), ("pvalue", self.pvalue), ("ci", self.ci),
                ("reject", self.reject)]

    def __repr__(self) -> str:
        return object_repr("MSPRT", self._repr_items())

    def _repr_html_(self) -> str:
        return object_html("MSPRT", self._repr_items())

    def to_json(self) -> str:
        """The state envelope (:mod:`abkit._state`) as JSON text; an infinite ``ci`` end is ``null``."""
        config = {"tau2": self.tau2, "sigma2": self.sigma2, "theta0": self.theta0, "alpha": self.alpha}
        state = {
            "stats": None if self.control is None else type(self.control).__name__,
            "control": None if self.control is None else self.control.to_dict(),
            "treatment": None if self.treatment is None else self.treatment.to_dict(),
            "looks": self.looks,
            "pvalue": self.pvalue,
            "ci": [_finite_or_none(self.ci.low), _finite_or_none(self.ci.high)],
        }
        return dump_state("MSPRT", _STATE_VERSION, config, state)

    def to_dict(self) -> dict[str, Any]:
        """The state envelope as a JSON-safe dict (see :meth:`to_json`)."""
        return dict(json.loads(self.to_json()))

    @classmethod
    def from_json(cls, text: str | bytes) -> MSPRT:
        """Restore a test from :meth:`to_json` output; a corrupt state raises ``StateError``."""
        return cls.from_dict(parse_json(text))

    @classmethod
    def from_dict(cls, state: Any) -> MSPRT:
        """Restore a test saved with :meth:`to_dict` (or the flat dict abkit 0.1 wrote)."""
        if isinstance(state, dict) and "tau2" in state and "state" not in state:  # 0.1: flat, no envelope
            flat = {**state, "stats": state.get("kind")}
        else:
            envelope = envelope_from_document(state, "MSPRT", versions=(_STATE_VERSION,))
            flat = {**envelope.config, **envelope.state}
        try:
            test = cls(tau2=flat["tau2"], sigma2=flat["sigma2"], theta0=flat["theta0"], alpha=flat["alpha"])
            if flat["stats"] is not None:
                kind = {"MeanStats": MeanStats, "ProportionStats": ProportionStats}[flat["stats"]]
                test.control = kind(**flat["control"])
                test.treatment = kind(**flat["treatment"])
            test.looks = check_int("looks", flat["looks"])
            test.pvalue = check_real("pvalue", flat["pvalue"])
            low, high = flat["ci"]
            test.ci = ConfidenceInterval(-math.inf if low is None else float(low),
                                         math.inf if high is None else float(high))
        except (KeyError, TypeError, ValueError) as exc:
            raise StateError(f"Corrupt MSPRT state: {exc!r}") from exc
        return test


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


# Beyond this the tail and the density underflow and their difference cancels: no tau2 is computable.
_MAX_TAU2_B = 30.0


def msprt_tau2(*, alpha: float, sigma2: float, n_max: float) -> float:
    """Johari et al.'s mixing variance for a test expected to run to at most ``n_max`` units per arm.

    ``b = 2 log(1/alpha) / sqrt(n_max sigma2)``, ``tau2 = sigma2 Phi(-b) / (phi(b) / b - Phi(-b))``
    (as in the R package mixtureSPRT's ``calcTau``, before rounding).

    Examples
    --------
    >>> round(msprt_tau2(alpha=0.05, sigma2=1.0, n_max=10000), 6)
    0.07716
    """
    alpha = check_open_unit("alpha", alpha)
    sigma2 = check_positive("sigma2", sigma2)
    n_max = check_positive("n_max", n_max)
    b = 2.0 * math.log(1.0 / alpha) / math.sqrt(n_max * sigma2)
    if b > _MAX_TAU2_B:
        raise ValueError(
            f"`n_max` * `sigma2` must be at least {(2.0 * math.log(1.0 / alpha) / _MAX_TAU2_B) ** 2:.3g} "
            f"for alpha {alpha}; got {n_max * sigma2:.3g}."
        )
    tail = float(special.ndtr(-b))
    density = math.exp(-0.5 * b * b) / math.sqrt(2.0 * math.pi)
    return sigma2 * tail / (density / b - tail)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class ConfidenceSequenceResult(Result):
    """Asymptotic confidence sequence at one look; ``pvalue`` is always valid.

    ``effect`` is ``treatment - control`` (``difference="absolute"``) or
    ``treatment / control - 1`` (``"relative"``). For proportions ``ci`` is clipped to the
    range of the difference: [-1, 1] (absolute) or [-1, inf) (relative), as R's ``prop.test``
    clips a difference of rates.
    """

    effect: float
    ci: ConfidenceInterval
    pvalue: float
    se: float
    rho: float
    difference: str
    tuning_n: float
    alpha: float


def asymptotic_cs(effect: Any, var: Any, total: Any, rho: float, alpha: float) -> tuple[Any, Any]:
    """Half-width and always-valid p-value of the asymptotic confidence sequence (arrays too).

    ``var`` is the variance of the effect estimate and ``total`` the number of units.
    """
    scale = total * rho * rho + 1.0
    half = np.sqrt(var * total) * np.sqrt(2.0 * scale * np.log(np.sqrt(scale) / alpha)) / (total * rho)
    pvalue = np.minimum(1.0, np.sqrt(scale) * np.exp(-(rho**2) * total * effect**2 / var / (2.0 * scale)))
    return half, pvalue


def confidence_sequence(
    control: Any,
    treatment: Any,
    *,
    alpha: float = 0.05,
    tuning_n: float = 5000.0,
    difference: str = "absolute",
) -> ConfidenceSequenceResult:
    """Asymptotic confidence sequence for the difference between arms (GrowthBook's method).

    With ``N = n_control + n_treatment``, ``s2 = N Var(estimate)`` and the mixing parameter
    ``rho = sqrt((-2 log alpha + log(1 - 2 log alpha)) / tuning_n)``, the half-width is
    ``sqrt(s2 2 (N rho^2 + 1) log(sqrt(N rho^2 + 1) / alpha)) / (N rho)`` (Waudby-Smith et al.,
    2023, eq. 9; the boundary equals Howard et al.'s two-sided normal mixture tuned at
    ``tuning_n`` units). Relative differences use the delta-method variance.

    Parameters
    ----------
    control, treatment
        ``MeanStats`` or ``ProportionStats`` (proportions use ``p (1 - p)``).
    alpha
        Error rate of the sequence (two-sided).
    tuning_n
        Total sample size at which the sequence is tightest (GrowthBook's "tuning parameter").
    difference
        ``"absolute"`` or ``"relative"``.

    Examples
    --------
    >>> from abkit import ProportionStats
    >>> r = confidence_sequence(ProportionStats(1000, 10000), ProportionStats(1100, 10000))
    >>> round(r.ci.low, 6), round(r.pvalue, 6)
    (-0.003555, 0.43372)
    """
    (n_a, m_a, v_a), (n_b, m_b, v_b) = _pair(control, treatment)
    alpha = check_open_unit("alpha", alpha)
    tuning_n = check_positive("tuning_n", tuning_n)
    difference = check_choice("difference", difference, ("absolute", "relative"))
    log_a = math.log(alpha)
    rho = math.sqrt((-2.0 * log_a + math.log(1.0 - 2.0 * log_a)) / tuning_n)
    if n_a < 1 or n_b < 1 or (difference == "relative" and m_a == 0.0):
        var = math.nan
    elif difference == "absolute":
        var = v_b / n_b + v_a / n_a
    else:
        var = v_b / (m_a**2 * n_b) + v_a * m_b**2 / (m_a**4 * n_a)
    if var > 0.0:
        effect = m_b - m_a if difference == "absolute" else m_b / m_a - 1.0
        half, pvalue = (float(x) for x in asymptotic_cs(effect, var, n_a + n_b, rho, alpha))
    else:
        warn_degenerate(
            "confidence_sequence needs units, variance and a non-zero control mean; fields are NaN."
        )
        effect = half = pvalue = var = math.nan
    return ConfidenceSequenceResult(
        effect=effect,
        ci=_in_range(ConfidenceInterval(effect - half, effect + half), control, difference),
        pvalue=pvalue,
        se=math.sqrt(var),
        rho=rho,
        difference=difference,
        tuning_n=tuning_n,
        alpha=alpha,
    )
