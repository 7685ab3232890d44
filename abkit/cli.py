"""The ``abkit`` command.

``abkit demo`` generates a seeded experiment and prints a readable report of its analysis.
``abkit sample-size`` sizes an experiment (or gives its power or MDE) and, with traffic, its
duration in days.
``abkit analyze PATH`` analyses a CSV or Parquet file of one row per unit inside DuckDB (the file
is never loaded into pandas): ``--proportion converted``, ``--mean revenue`` or
``--mean revenue:revenue_pre`` (CUPED on a covariate), ``--ratio clicks/sessions``,
``--quantile revenue:0.9``, each optionally named as ``NAME=SPEC``; ``--cap NAME=percentile:0.99``
caps a mean, ``--engine bayes`` reports chances to win and expected losses.

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
import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from abkit._results import ConfidenceInterval
from abkit.datasets import make_experiment
from abkit.errors import ConvergenceError
from abkit.frame import Experiment, Mean, Metric, Proportion, Quantile, RatioOfMeans
from abkit.means import MeansTestResult, cuped_test, means_test, ratio_test
from abkit.multiple import adjust_pvalues
from abkit.power import duration, power_means, power_proportions
from abkit.power.means import MeansPowerResult
from abkit.power.proportions import ProportionsPowerResult
from abkit.proportions import ProportionsTestResult, proportions_test
from abkit.srm import srm_test
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
def parse_metric(kind: str, spec: str) -> tuple[str, Metric]:
    """A metric option's ``[NAME=]SPEC`` as ``(name, metric)``; the name defaults to the spec.

    >>> name, metric = parse_metric("ratio", "ctr=clicks/sessions")
    >>> name, metric.columns
    ('ctr', ('clicks', 'sessions'))
    """
    name, sep, body = spec.partition("=")
    if not sep:
        name, body = spec, spec
    metric: Metric
    if kind == "proportion":
        metric = Proportion(body)
    elif kind == "mean":
        column, _, covariate = body.partition(":")
        metric = Mean(column, covariate or None)
    elif kind == "quantile":
        column, colon, q = body.rpartition(":")
        try:
            if not (colon and column):
                raise ValueError(spec)
            metric = Quantile(column, float(q))
        except ValueError as exc:
            raise ValueError(f"`--quantile` must be COLUMN:Q with Q in (0, 1); got {spec!r}.") from exc
    else:
        numerator, slash, denominator = body.partition("/")
        if not slash or not numerator or not denominator:
            raise ValueError(f"`--ratio` must be NUMERATOR/DENOMINATOR; got {spec!r}.")
        metric = RatioOfMeans(numerator, denominator)
    if not name:
        raise ValueError(f"`--{kind}` must be [NAME=]SPEC with a non-empty NAME; got {spec!r}.")
    return name, metric


_DUCKDB_INTEGERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                    "UINTEGER", "UBIGINT", "UHUGEINT")


def _control_value(types: dict[str, str], variant: str, control: str | None) -> Any:
    # The command line gives text; compare it as the variant column's type.
    if control is None or variant not in types:
        return control
    kind = types[variant].upper()
    try:
        if kind in _DUCKDB_INTEGERS:
            return int(control)
        if kind in ("DOUBLE", "FLOAT", "REAL") or kind.startswith("DECIMAL"):
            return float(control)
    except ValueError as exc:
        raise ValueError(f"`--control` must be a value of column {variant!r} ({kind}); "
                         f"got {control!r}.") from exc
    if kind == "BOOLEAN":
        return control.lower() in ("true", "1", "t", "yes")
    return control


def apply_cap(declared: dict[str, Metric], spec: str) -> None:
    """``--cap NAME=percentile:P`` or ``NAME=absolute:X`` on the mean metric ``NAME``.

    >>> metrics: dict[str, Metric] = {"revenue": Mean("revenue")}
    >>> apply_cap(metrics, "revenue=percentile:0.99")
    >>> metrics["revenue"].cap
    ('percentile', 0.99)
    """
    name, _, rule = spec.partition("=")
    kind, _, value = rule.partition(":")
    metric = declared.get(name)
    if not isinstance(metric, Mean):
        raise ValueError(f"`--cap` must name a --mean metric (NAME=percentile:P or NAME=absolute:X); "
                         f"got {spec!r}.")
    try:
        number = float(value)
    except ValueError as exc:
        raise ValueError(f"`--cap` must be NAME=percentile:P or NAME=absolute:X; got {spec!r}.") from exc
    declared[name] = dataclasses.replace(metric, cap=(kind, number))


def run_analyze(path: str, *, variant: str, control: str | None, metrics: list[tuple[str, str]],
                alternative: str, confidence_level: float, adjust: str, output: str,
                caps: Sequence[str] = (), engine: str = "frequentist") -> str:
    """Analyse a CSV or Parquet file with DuckDB; the report as text, CSV or JSON."""
    try:
        import duckdb
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError("`abkit analyze` needs DuckDB: pip install \"abkit[duckdb]\".") from exc
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"`PATH` must be an existing CSV or Parquet file; got {path!r}.")
    if not metrics:
        raise ValueError("Give at least one metric: --proportion, --mean, --ratio or --quantile.")
    declared = [parse_metric(kind, spec) for kind, spec in metrics]
    names = [name for name, _ in declared]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"Metric names must be unique (use NAME=SPEC); got {duplicates} twice.")
    connection = duckdb.connect()
    suffixes = "".join(file.suffixes).lower()
    if ".parquet" in suffixes or ".pq" in suffixes:
        relation = connection.read_parquet(str(file))
    elif ".csv" in suffixes or ".tsv" in suffixes:
        relation = connection.read_csv(str(file))
    else:
        raise ValueError(f"`PATH` must end in .csv, .tsv or .parquet; got {file.name!r}.")
    types = {column: str(kind) for column, kind in zip(relation.columns, relation.types, strict=True)}
    experiment_metrics = dict(declared)
    for cap in caps:
        apply_cap(experiment_metrics, cap)
    result = Experiment(**experiment_metrics).analyze(
        relation, variant=variant, control=_control_value(types, variant, control),
        alternative=alternative, confidence_level=confidence_level, adjust=adjust, engine=engine,
    )
    if output == "csv":
        return str(result.to_frame().to_csv(index=False)).rstrip("\n")
    if output == "json":
        return json.dumps(result.to_dict(), indent=2)
    return repr(result)


def _add_analyze(commands: Any) -> None:
    analyze = commands.add_parser(
        "analyze", help="analyse a CSV or Parquet file (one row per unit) inside DuckDB",
        description="Test every treatment against the control on each metric; Holm-adjusted "
                    "p-values and a sample-ratio check.")
    analyze.add_argument("path", help="CSV or Parquet file, one row per randomisation unit")
    analyze.add_argument("--variant", default="variant", help="variant column (default: variant)")
    analyze.add_argument("--control", default=None, help="control's value (default: the smallest)")
    analyze.add_argument("--proportion", dest="metrics", action="append", metavar="[NAME=]COLUMN",
                         type=lambda s: ("proportion", s), help="a 0/1 column")
    analyze.add_argument("--mean", dest="metrics", action="append", metavar="[NAME=]COLUMN[:COVARIATE]",
                         type=lambda s: ("mean", s), help="a numeric column, CUPED with a covariate")
    analyze.add_argument("--ratio", dest="metrics", action="append", metavar="[NAME=]NUM/DEN",
                         type=lambda s: ("ratio", s), help="a ratio of means, by the delta method")
    analyze.add_argument("--quantile", dest="metrics", action="append", metavar="[NAME=]COLUMN:Q",
                         type=lambda s: ("quantile", s), help="a quantile (R type 7), order statistics")
    analyze.add_argument("--cap", dest="caps", action="append", default=[],
                         metavar="NAME=percentile:P|NAME=absolute:X", help="cap a --mean metric")
    analyze.add_argument("--engine", default="frequentist", choices=["frequentist", "bayes"])
    analyze.add_argument("--alternative", default="two-sided",
                         choices=["two-sided", "less", "greater"])
    analyze.add_argument("--confidence-level", type=float, default=0.95)
    analyze.add_argument("--adjust", default="holm",
                         choices=["holm", "bonferroni", "hochberg", "bh", "by", "none"])
    analyze.add_argument("--output", default="table", choices=["table", "csv", "json"])


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``abkit`` command; returns the exit status."""
    parser = argparse.ArgumentParser(prog="abkit", description="Experimentation statistics.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="analyse a built-in seeded experiment")
    demo.add_argument("--users", type=int, default=20_000, help="number of users")
    demo.add_argument("--seed", type=int, default=0, help="random seed")
    _add_sample_size(commands)
    _add_analyze(commands)
    args = parser.parse_args(argv)
    if args.command == "demo":
        print(run_demo(args.users, args.seed))
    elif args.command == "sample-size":
        try:
            print(run_sample_size(args))
        except (ValueError, ConvergenceError) as error:
            print(f"abkit sample-size: {error}", file=sys.stderr)
            return 2
    elif args.command == "analyze":
        try:
            report = run_analyze(
                args.path, variant=args.variant, control=args.control, metrics=args.metrics or [],
                alternative=args.alternative, confidence_level=args.confidence_level,
                adjust=args.adjust, output=args.output, caps=args.caps, engine=args.engine,
            )
        except (ValueError, TypeError) as exc:
            print(f"abkit analyze: error: {exc}", file=sys.stderr)
            return 2
        print(report)
    return 0


def entry() -> None:
    """The console script: ``main()``, quiet when the reader closes the pipe (``abkit demo | head``)."""
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # As Unix tools do: stop quietly; point stdout at /dev/null so the final flush is silent.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = 0
    sys.exit(status)


if __name__ == "__main__":
    entry()
