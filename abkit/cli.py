"""The ``abkit`` command.

``abkit demo`` generates a seeded experiment and prints a readable report of its analysis.
``abkit sample-size`` sizes an experiment (or gives its power or MDE) and, with traffic, its
duration in days.

Examples
--------
>>> main(["demo", "--users", "2000"])  # doctest: +ELLIPSIS
abkit demo: ...
0
>>> main(["sample-size", "--baseline", "0.1", "--mde", "0.1", "--relative"])  # doctest: +ELLIPSIS
ProportionsPowerResult
  n_control            14750.8
...
0
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from abkit._results import ConfidenceInterval
from abkit.checks import srm_test
from abkit.datasets import make_experiment
from abkit.errors import ConvergenceError
from abkit.means import MeansTestResult, cuped_test, means_test, ratio_test
from abkit.multiple import adjust_pvalues
from abkit.power import duration, power_means, power_proportions
from abkit.power.means import MeansPowerResult
from abkit.power.proportions import ProportionsPowerResult
from abkit.proportions import ProportionsTestResult, proportions_test
from abkit.stats import BivariateStats, MeanStats, ProportionStats


def _fmt_ci(ci: ConfidenceInterval, scale: float = 1.0, digits: int = 3) -> str:
    return f"[{ci.low * scale:+.{digits}f}, {ci.high * scale:+.{digits}f}]"


def run_demo(n_users: int, seed: int) -> str:
    """The demo report for a seeded synthetic experiment, as text."""
    data = make_experiment(n_users, rng=seed)
    arms = {name: data[data["variant"] == name] for name in ("control", "treatment")}
    c, t = arms["control"], arms["treatment"]

    srm = srm_test([len(c), len(t)], [0.5, 0.5])
    conversion = proportions_test(
        ProportionStats.from_samples(c["converted"].to_numpy()),
        ProportionStats.from_samples(t["converted"].to_numpy()),
    )
    revenue = means_test(
        MeanStats.from_samples(c["revenue"].to_numpy()),
        MeanStats.from_samples(t["revenue"].to_numpy()),
    )
    revenue_cuped = cuped_test(
        BivariateStats.from_samples(c["revenue"].to_numpy(), c["revenue_pre"].to_numpy()),
        BivariateStats.from_samples(t["revenue"].to_numpy(), t["revenue_pre"].to_numpy()),
    )
    ctr = ratio_test(
        BivariateStats.from_samples(c["clicks"].to_numpy(), c["sessions"].to_numpy()),
        BivariateStats.from_samples(t["clicks"].to_numpy(), t["sessions"].to_numpy()),
    )
    # The decision family: one test per metric, Holm-adjusted together. Revenue is judged with
    # CUPED; the plain Welch test is printed beside it to show what the covariate buys.
    rows: list[tuple[str, float, float, ProportionsTestResult | MeansTestResult]] = [
        ("conversion", conversion.control_rate, conversion.treatment_rate, conversion),
        ("revenue (CUPED)", revenue_cuped.control_mean, revenue_cuped.treatment_mean,
         revenue_cuped),
        ("clicks/session", ctr.control_mean, ctr.treatment_mean, ctr),
    ]
    adjusted = adjust_pvalues(np.array([r[3].pvalue for r in rows]), method="holm")

    def line(name: str, control_value: float, treatment_value: float,
             result: ProportionsTestResult | MeansTestResult, p_adj: str) -> str:
        return (
            f"{name:<17}{control_value:>10.4f}{treatment_value:>11.4f}"
            f"{result.relative_effect * 100:>12.2f}%  {_fmt_ci(result.relative_ci, 100, 2):<20}"
            f"{result.pvalue:>9.4f}{p_adj:>10}"
        )

    lines = [
        f"abkit demo: {n_users:,} users, seed {seed}",
        "",
        f"Sample ratio: control {len(c):,}, treatment {len(t):,} "
        f"(chi2 = {srm.statistic:.3f}, p = {srm.pvalue:.4f}) -> "
        + ("MISMATCH: do not trust the results" if srm.mismatch else "ok"),
        "",
        f"{'metric':<17}{'control':>10}{'treatment':>11}{'rel. effect':>13}  "
        f"{'95% CI (relative)':<20}{'p':>9}{'p (Holm)':>10}",
    ]
    lines += [line(*row, f"{p_adj:.4f}") for row, p_adj in zip(rows, adjusted, strict=True)]
    lines += [
        line("revenue (Welch)", revenue.control_mean, revenue.treatment_mean, revenue, "-"),
        "",
        f"CUPED on pre-period revenue removed {revenue_cuped.variance_reduction:.0%} of the "
        "variance of the revenue effect (the Welch row is the same metric without it).",
        "Decision at alpha = 0.05, Holm across the three metrics: "
        + "; ".join(
            f"{name}: {'better' if p < 0.05 and r.effect > 0 else 'worse' if p < 0.05 else 'no evidence'}"
            for (name, _, _, r), p in zip(rows, adjusted, strict=True)
        ),
    ]
    return "\n".join(lines)


def run_sample_size(args: argparse.Namespace) -> str:
    """The ``sample-size`` report: the solved design and, with traffic, its duration."""
    if (args.baseline is None) == (args.sd is None):
        raise SystemExit("abkit sample-size: give exactly one of --baseline (rates) or --sd (means).")
    power = args.power
    if power is None and (args.mde is None or args.n_control is None):
        power = 0.8
    common = dict(mde=args.mde, n_control=args.n_control, power=power, alpha=args.alpha,
                  ratio=args.ratio, alternative=args.alternative, relative=args.relative,
                  two_sided_power=args.two_sided_power, margin=args.margin, rho=args.rho,
                  n_treatments=args.treatments, adjustment=args.adjustment,
                  inflation_factor=args.inflation_factor)
    if args.baseline is not None:
        result: ProportionsPowerResult | MeansPowerResult = power_proportions(
            baseline=args.baseline, method=args.method or "pooled", **common)
    else:
        result = power_means(sd=args.sd, mean=args.mean, method=args.method or "t", **common)
    lines = [repr(result)]
    if args.daily_visitors is not None:
        days = duration(n_control=result.n_control_rounded, n_treatment=result.n_treatment_rounded,
                        n_treatments=result.n_treatments, daily_visitors=args.daily_visitors,
                        traffic_share=args.traffic_share, population=args.population)
        lines.append(f"duration: {days.days:.2f} days ({days.units_needed:,.0f} units at "
                     f"{args.traffic_share:g} of {args.daily_visitors:,.0f} daily visitors)")
    return "\n".join(lines)


def _add_sample_size(commands: Any) -> None:
    size = commands.add_parser(
        "sample-size", help="sample size, power or MDE of a design (solves the one left out)")
    size.add_argument("--baseline", type=float, help="control conversion rate (rates)")
    size.add_argument("--sd", type=float, help="per-unit standard deviation (means)")
    size.add_argument("--mean", type=float, help="control mean (for --relative with --sd)")
    size.add_argument("--mde", type=float, help="effect to detect (absolute unless --relative)")
    size.add_argument("--relative", action="store_true", help="--mde is relative to the control")
    size.add_argument("--n-control", type=float, help="units in the control arm")
    size.add_argument("--power", type=float, help="target power (0.8 when solving for n)")
    size.add_argument("--alpha", type=float, default=0.05)
    size.add_argument("--ratio", type=float, default=1.0, help="n_treatment / n_control")
    size.add_argument("--alternative", default="two-sided", choices=["two-sided", "greater", "less"])
    size.add_argument("--method", help="pooled | unpooled | arcsine (rates); t | z (means)")
    size.add_argument("--two-sided-power", default="both", choices=["both", "near"])
    size.add_argument("--margin", type=float, default=0.0, help="non-inferiority/superiority margin")
    size.add_argument("--rho", type=float, default=0.0, help="CUPED covariate correlation")
    size.add_argument("--treatments", type=int, default=1, help="number of treatment arms")
    size.add_argument("--adjustment", default="bonferroni", choices=["bonferroni", "dunnett"])
    size.add_argument("--inflation-factor", type=float, default=1.0,
                      help="group-sequential maximum over fixed sample size")
    size.add_argument("--daily-visitors", type=float, help="daily visitors, to report the duration")
    size.add_argument("--traffic-share", type=float, default=1.0, help="share in the experiment")
    size.add_argument("--population", type=float, help="distinct users (returning users)")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``abkit`` command; returns the exit status."""
    parser = argparse.ArgumentParser(prog="abkit", description="Experimentation statistics.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="analyse a built-in seeded experiment")
    demo.add_argument("--users", type=int, default=20_000, help="number of users")
    demo.add_argument("--seed", type=int, default=0, help="random seed")
    _add_sample_size(commands)
    args = parser.parse_args(argv)
    if args.command == "demo":
        print(run_demo(args.users, args.seed))
    elif args.command == "sample-size":
        try:
            print(run_sample_size(args))
        except (ValueError, ConvergenceError) as error:
            print(f"abkit sample-size: {error}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
