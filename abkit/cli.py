"""The ``abkit`` command.

``abkit demo`` generates a seeded experiment and prints a readable report of its analysis.

Examples
--------
>>> main(["demo", "--users", "2000"])  # doctest: +ELLIPSIS
abkit demo: ...
0
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from abkit._results import ConfidenceInterval
from abkit.checks import srm_test
from abkit.datasets import make_experiment
from abkit.means import MeansTestResult, cuped_test, means_test, ratio_test
from abkit.multiple import adjust_pvalues
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``abkit`` command; returns the exit status."""
    parser = argparse.ArgumentParser(prog="abkit", description="Experimentation statistics.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="analyse a built-in seeded experiment")
    demo.add_argument("--users", type=int, default=20_000, help="number of users")
    demo.add_argument("--seed", type=int, default=0, help="random seed")
    args = parser.parse_args(argv)
    if args.command == "demo":
        print(run_demo(args.users, args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
