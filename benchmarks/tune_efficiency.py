"""Sample efficiency of the tuning strategies: Bayesian vs Random vs Hyperband at equal budget.

    .venv/bin/python benchmarks/tune_efficiency.py [--seeds 5] [--trials 15] [--parallel 2]
                                                   [--users 50] [--epochs 6] [--space small|full]
                                                   [--objective METRIC] [--stem NAME]

On one fixed generated data set (the example's generator, ``--users`` users), each strategy runs
a tuning job of ``--trials`` training jobs with the real trainer, for each ``RandomSeed``, over the
same ranges:

- ``--space small`` (the default): five ranges (learning_rate, weight_decay, vector_dim,
  mini_batch_size, random_negative_sampling_rate), ``epochs`` static at ``--epochs``;
- ``--space full``: all nine of the seed's recommended ranges (docs/tuning.md, "Default ranges"),
  with ``epochs`` capped at ``--epochs`` (1..``--epochs``, Logarithmic, for Random and Bayesian;
  Hyperband's resource, ``MaxResource = --epochs``) since 1..100 epochs is unaffordable here.

The job documents name no objective unless ``--objective`` is given, so they use the tuner's
default; the objective shown in the table and plot is read back from the job's ``describe``.
Reported, median and spread (min..max) over the seeds:

- the final best objective, the epochs trained and the wall time;
- best-so-far curves against training jobs and against wall time (PNG);
- time to target: training jobs (and seconds) until Bayesian reaches Random's final best on the
  same seed (target: at most 60 % of Random's training jobs, median over seeds);
- Hyperband: its best against the best of the full-budget strategies on the same seed (target:
  within 0.002) and its epochs as a share of Random's (target: at most 40 %).

Prints the Markdown table; with ``--save`` also writes ``benchmarks/results/STEM.{md,json,png}``
(the committed results; ``--stem`` defaults to ``tune_efficiency`` for the small space and
``tune_efficiency_full`` for the full one). By default nothing is written. The committed
``tune_efficiency.*`` were measured when the default objective was
``validation:discriminator_auc``: reproduce them with ``--objective validation:discriminator_auc``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ipinsights.lab import write_dataset
from ipinsights.tune import TuningJob, describe_job, parse_job_config, run_job

RESULTS = Path(__file__).resolve().parent / "results"
STRATEGIES = ("Random", "Bayesian", "Hyperband")
RANGES_SMALL = {
    "ContinuousParameterRanges": [
        {"Name": "learning_rate", "MinValue": "1e-4", "MaxValue": "0.3", "ScalingType": "Logarithmic"},
        {"Name": "weight_decay", "MinValue": "1e-8", "MaxValue": "0.1", "ScalingType": "Logarithmic"},
    ],
    "IntegerParameterRanges": [
        {"Name": "vector_dim", "MinValue": "4", "MaxValue": "64", "ScalingType": "Logarithmic"},
        {"Name": "mini_batch_size", "MinValue": "256", "MaxValue": "4096", "ScalingType": "Logarithmic"},
        {"Name": "random_negative_sampling_rate", "MinValue": "1", "MaxValue": "6", "ScalingType": "Linear"},
    ],
}


def full_ranges(strategy: str, epochs: int, weight_decay: str = "log") -> dict:
    """The seed's recommended ranges, all nine, with ``epochs`` capped at ``epochs``.

    Scales a user would pick: Logarithmic for learning_rate, mini_batch_size, num_entity_vectors,
    vector_dim (and epochs, num_ip_encoder_layers, as Auto resolves them for 1..100 and 1..10);
    Linear for the negative sampling rates. weight_decay: ``log`` is 1e-8..1 Logarithmic (the
    tuner refuses Logarithmic with MinValue 0, and ReverseLogarithmic needs MaxValue < 1; 1e-8 is
    no decay in effect); ``linear`` is the seed's 0..1 Linear, where almost every draw is a decay
    strong enough that the model learns nothing (objective 0.50; 5 of 6 probe trials on 200 users).
    Hyperband does not tune ``epochs`` (it is the resource).
    """
    integer = [
        {"Name": "mini_batch_size", "MinValue": "100", "MaxValue": "50000", "ScalingType": "Logarithmic"},
        {
            "Name": "num_entity_vectors",
            "MinValue": "10000",
            "MaxValue": "1000000",
            "ScalingType": "Logarithmic",
        },
        {"Name": "num_ip_encoder_layers", "MinValue": "1", "MaxValue": "10", "ScalingType": "Logarithmic"},
        {"Name": "random_negative_sampling_rate", "MinValue": "0", "MaxValue": "10", "ScalingType": "Linear"},
        {
            "Name": "shuffled_negative_sampling_rate",
            "MinValue": "0",
            "MaxValue": "10",
            "ScalingType": "Linear",
        },
        {"Name": "vector_dim", "MinValue": "8", "MaxValue": "256", "ScalingType": "Logarithmic"},
    ]
    if strategy != "Hyperband":
        scale = "Logarithmic" if epochs > 1 else "Linear"
        integer.insert(0, {"Name": "epochs", "MinValue": "1", "MaxValue": str(epochs), "ScalingType": scale})
    return {
        "ContinuousParameterRanges": [
            {"Name": "learning_rate", "MinValue": "1e-4", "MaxValue": "0.1", "ScalingType": "Logarithmic"},
            {"Name": "weight_decay", "MinValue": "0", "MaxValue": "1", "ScalingType": "Linear"}
            if weight_decay == "linear"
            else {"Name": "weight_decay", "MinValue": "1e-8", "MaxValue": "1", "ScalingType": "Logarithmic"},
        ],
        "IntegerParameterRanges": integer,
    }


def job_document(
    name: str, strategy: str, seed: int, args: argparse.Namespace, data: dict[str, Path]
) -> dict:
    config: dict = {
        "Strategy": strategy,
        "ResourceLimits": {"MaxNumberOfTrainingJobs": args.trials, "MaxParallelTrainingJobs": args.parallel},
        "ParameterRanges": RANGES_SMALL
        if args.space == "small"
        else full_ranges(strategy, args.epochs, args.weight_decay),
        "RandomSeed": seed,
    }
    if args.objective:
        config["HyperParameterTuningJobObjective"] = {"MetricName": args.objective}
    if strategy == "Hyperband":
        config["StrategyConfig"] = {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": args.epochs}}
    static = {"batch_metrics_publish_interval": "100000"}
    if args.space == "small":
        static |= {
            "num_entity_vectors": str(2 * args.users),
            "epochs": str(args.epochs),
            "shuffled_negative_sampling_rate": "1",
        }
    elif strategy == "Hyperband":
        static["epochs"] = str(args.epochs)
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": config,
        "TrainingJobDefinition": {
            "StaticHyperParameters": static,
            "InputDataConfig": {"train": str(data["train"]), "validation": str(data["validation"])},
            "Device": "cpu",
        },
    }


def run_one(root: Path, strategy: str, seed: int, args: argparse.Namespace, data: dict[str, Path]) -> dict:
    name = f"{strategy.lower()}-{seed}"
    config = parse_job_config(job_document(name, strategy, seed, args, data))
    job = TuningJob.create_or_resume(config, job_dir=root / name)
    started = time.time()
    status = run_job(job, plots=False)
    wall = time.time() - started
    described = describe_job(job)
    objective = described["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["MetricName"]
    jobs = sorted((j for j in job.training_jobs() if j.final), key=lambda j: (j.end_time, j.number))
    origin = min(j.creation_time for j in jobs).timestamp()
    best, curve, times, values, best_tuned = -np.inf, [], [], [], None
    for j in jobs:
        if j.status == "Completed" and j.value is not None:
            values.append(j.value)
            if j.value > best:
                best, best_tuned = j.value, j.tuned
        curve.append(best)
        times.append(j.end_time.timestamp() - origin)
    return {
        "strategy": strategy,
        "seed": seed,
        "status": status,
        "best": curve[-1],
        "curve": curve,
        "times": times,
        "epochs": sum(j.epochs for j in jobs),
        "wall_seconds": wall,
        "objective": objective,
        "completed_values": values,
        "failed": sum(j.status == "Failed" for j in jobs),
        "rejected_draws": described.get("IPInsights", {}).get("RejectedDraws", 0),
        "best_tuned": best_tuned,
    }


def reach(run: dict, target: float) -> tuple[float, float]:
    """Training jobs and seconds until ``run``'s best-so-far reaches ``target`` (inf if never)."""
    for i, value in enumerate(run["curve"]):
        if value >= target - 1e-12:
            return i + 1, run["times"][i]
    return float("inf"), float("inf")


def spread(values: list[float], fmt: str = "{:.4f}") -> str:
    """Median (min..max); targets never reached count as infinite and show as "never"."""

    def show(v: float) -> str:
        return fmt.format(v) if np.isfinite(v) else "never"

    return f"{show(statistics.median(values))} ({show(min(values))}..{show(max(values))})"


def report(runs: list[dict], args: argparse.Namespace) -> tuple[str, dict]:
    by = {(r["strategy"], r["seed"]): r for r in runs}
    # only seeds that every strategy finished (a run cut short saves its JSON after each job)
    seeds = sorted(s for s in {r["seed"] for r in runs} if all((g, s) in by for g in STRATEGIES))
    runs = [r for r in runs if r["seed"] in seeds]
    objective = objective_name(runs)
    space = getattr(args, "space", "small")
    space_text = (
        "five ranges (learning_rate, weight_decay, vector_dim, mini_batch_size, random_negative_sampling_rate)"
        if space == "small"
        else f"the seed's nine recommended ranges, epochs capped at 1..{args.epochs} (Hyperband: MaxResource "
        f"{args.epochs}), weight_decay "
        + ("0..1 Linear" if getattr(args, "weight_decay", "log") == "linear" else "1e-8..1 Logarithmic")
    )
    lines = [
        f"Sample efficiency on `{objective}`, {space_text}; {args.trials} training jobs per job, "
        f"{args.parallel} in parallel, {len(seeds)} seeds, {args.epochs} epochs per full trial, {args.users} users "
        "(median (min..max) over seeds).",
        "",
        f"| strategy | final best `{objective}` | epochs trained | wall time (s) | jobs to reach Random's final best "
        "| seconds to reach it |",
        "|---|---|---|---|---|---|",
    ]
    summary: dict = {}
    for strategy in STRATEGIES:
        mine = [by[(strategy, s)] for s in seeds]
        hits = [reach(by[(strategy, s)], by[("Random", s)]["best"]) for s in seeds]
        lines.append(
            f"| {strategy} | {spread([r['best'] for r in mine])} | {spread([r['epochs'] for r in mine], '{:.0f}')} | "
            f"{spread([r['wall_seconds'] for r in mine], '{:.0f}')} | {spread([h[0] for h in hits], '{:.0f}')} | "
            f"{spread([h[1] for h in hits], '{:.0f}')} |"
        )
        summary[strategy] = {
            "best": [r["best"] for r in mine],
            "epochs": [r["epochs"] for r in mine],
            "reach_jobs": [h[0] for h in hits],
        }
    bayes_share = statistics.median([h / args.trials for h in summary["Bayesian"]["reach_jobs"]])
    gaps = [
        max(by[("Random", s)]["best"], by[("Bayesian", s)]["best"]) - by[("Hyperband", s)]["best"]
        for s in seeds
    ]
    epoch_share = [by[("Hyperband", s)]["epochs"] / by[("Random", s)]["epochs"] for s in seeds]
    full_share = [by[("Hyperband", s)]["epochs"] / (args.trials * args.epochs) for s in seeds]
    targets = {
        "objective": objective,
        "hyperband_epoch_share_of_max": statistics.median(full_share),
        "bayesian_reach_share": bayes_share,
        "bayesian_target_met": bayes_share <= 0.6,
        "hyperband_gap": statistics.median(gaps),
        "hyperband_epoch_share": statistics.median(epoch_share),
        "hyperband_target_met": statistics.median(gaps) <= 0.002 and statistics.median(epoch_share) <= 0.4,
    }
    reached = sum(np.isfinite(h) for h in summary["Bayesian"]["reach_jobs"])
    share_text = f"{bayes_share:.0%}" if np.isfinite(bayes_share) else "never (median)"
    lines += [
        "",
        f"- Bayesian reaches Random's final best on {reached} of {len(seeds)} seeds; after {share_text} of the "
        "training jobs (median; target <= 60 %): "
        f"{'met' if targets['bayesian_target_met'] else 'NOT met'}.",
        f"- Hyperband: {statistics.median(gaps):+.4f} below the best full-budget objective (median; target <= 0.002) with "
        f"{statistics.median(epoch_share):.0%} of Random's epochs (target <= 40 %): "
        f"{'met' if targets['hyperband_target_met'] else 'NOT met'}.",
    ]
    diffs = [by[("Bayesian", s)]["best"] - by[("Random", s)]["best"] for s in seeds]
    own = [reach(by[("Random", s)], by[("Random", s)]["best"])[0] for s in seeds]
    lines.append(
        "- Per seed ("
        + ", ".join(str(s) for s in seeds)
        + "): Bayesian's final best minus Random's "
        + ", ".join(f"{d:+.4f}" for d in diffs)
        + f" (median {statistics.median(diffs):+.4f}); the job at which Random found its own final best "
        + ", ".join(str(n) for n in own)
        + "; Hyperband's gap "
        + ", ".join(f"{g:+.4f}" for g in gaps)
        + "."
    )
    if space != "small":
        lines.append(
            f"- Hyperband's epochs as a share of {args.trials} trials x {args.epochs} epochs (every trial at "
            f"MaxResource): {statistics.median(full_share):.0%} (median; {min(full_share):.0%}..{max(full_share):.0%})."
        )
    if all("completed_values" in r for r in runs):
        lines += [
            "",
            f"Spread of `{objective}` within a job (completed training jobs; median over seeds of each job's "
            "min / median / max), failed training jobs and rejected draws (R + S = 0), summed over seeds:",
            "",
            "| strategy | min | median | max | failed | rejected draws |",
            "|---|---|---|---|---|---|",
        ]
        for strategy in STRATEGIES:
            mine = [by[(strategy, s)] for s in seeds]
            stats = [
                (min(v), statistics.median(v), max(v)) for v in (r["completed_values"] for r in mine) if v
            ]
            cols = [statistics.median(x[i] for x in stats) if stats else float("nan") for i in range(3)]
            lines.append(
                f"| {strategy} | {cols[0]:.4f} | {cols[1]:.4f} | {cols[2]:.4f} | "
                f"{sum(r['failed'] for r in mine)} | {sum(r['rejected_draws'] for r in mine)} |"
            )
    return "\n".join(lines), targets


def header(meta: dict | None) -> str:
    """How the saved results were measured: command, machine, load and wall time."""
    if not meta:
        return ""
    load = lambda key: " / ".join(f"{x:.2f}" for x in meta[key])  # noqa: E731
    return (
        f"Command: `{meta['command']}`  \n"
        f"Machine: {meta['machine']}; started {meta['started']}; load average (1/5/15 min) "
        f"{load('load_before')} before, {load('load_after')} after; wall time {meta['wall_seconds'] / 60:.0f} min"
        f"{'' if meta.get('complete', True) else ' (cut short: only the seeds every strategy finished are shown)'}."
        "\n\n"
    )


def objective_name(runs: list[dict]) -> str:
    """The objective the jobs optimised, as their describe output names it.

    Runs saved before the objective was recorded were measured on ``validation:discriminator_auc``
    (the default objective until ``validation:detection_auc`` replaced it).
    """
    names = {r.get("objective", "validation:discriminator_auc") for r in runs}
    if len(names) != 1:
        raise SystemExit(f"the runs optimised different objectives: {sorted(names)}")
    return names.pop()


def plot(runs: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for color, strategy in zip(("C0", "C1", "C2"), STRATEGIES, strict=True):
        mine = [r for r in runs if r["strategy"] == strategy]
        curves = np.array([r["curve"] for r in mine])
        x = np.arange(1, curves.shape[1] + 1)
        axes[0].plot(x, np.median(curves, axis=0), color=color, label=strategy)
        axes[0].fill_between(x, curves.min(axis=0), curves.max(axis=0), color=color, alpha=0.15)
        for r in mine:
            axes[1].step(
                r["times"],
                r["curve"],
                where="post",
                color=color,
                alpha=0.6,
                label=strategy if r is mine[0] else None,
            )
    axes[0].set(
        xlabel="training jobs finished",
        ylabel=f"best {objective_name(runs)} so far",
        title="against training jobs (median, min..max)",
    )
    axes[1].set(xlabel="seconds since the job started", title="against wall time (each seed)")
    for ax in axes:
        ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=15)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--data-seed", type=int, default=11)
    parser.add_argument(
        "--space",
        choices=("small", "full"),
        default="small",
        help="small: the five ranges of the committed results; full: the seed's nine recommended ranges",
    )
    parser.add_argument(
        "--weight-decay",
        choices=("log", "linear"),
        default="log",
        help="--space full's weight_decay range: 1e-8..1 Logarithmic (default) or the seed's 0..1 Linear",
    )
    parser.add_argument(
        "--objective",
        default=None,
        help="MetricName of the jobs' objective (default: none, the tuner's default)",
    )
    parser.add_argument(
        "--stem",
        default=None,
        help="file names under benchmarks/results/ (default: tune_efficiency, or tune_efficiency_full with --space full)",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="redo the table (and, with --save, the plot) from the saved JSON",
    )
    parser.add_argument(
        "--save",
        action="store_true",
        help="write benchmarks/results/tune_efficiency.{md,json,png} (committed)",
    )
    args = parser.parse_args()
    stem = args.stem or ("tune_efficiency" if args.space == "small" else "tune_efficiency_full")
    if args.report_only:
        saved = json.loads((RESULTS / f"{stem}.json").read_text())
        args = argparse.Namespace(**{**vars(args), **saved["args"], "save": args.save})
        table, _ = report(saved["runs"], args)
        table = header(saved.get("meta")) + table
        print(table)
        if args.save:
            (RESULTS / f"{stem}.md").write_text(table + "\n")
            plot(saved["runs"], RESULTS / f"{stem}.png")
        return
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    runs: list[dict] = []
    meta = {
        "command": "python benchmarks/tune_efficiency.py " + shlex.join(sys.argv[1:]),
        "machine": f"{platform.node()}: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "load_before": os.getloadavg(),
    }
    started = time.time()

    def save(complete: bool) -> dict:
        meta.update(wall_seconds=time.time() - started, load_after=os.getloadavg(), complete=complete)
        if args.save:
            RESULTS.mkdir(parents=True, exist_ok=True)
            (RESULTS / f"{stem}.json").write_text(
                json.dumps(
                    {"args": vars(args), "meta": meta, "targets": targets, "runs": runs},
                    indent=1,
                    default=float,
                )
            )
        return meta

    targets: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = write_dataset(root / "data", num_users=args.users, seed=args.data_seed)
        for seed in range(1, args.seeds + 1):
            for strategy in STRATEGIES:
                result = run_one(root / "jobs", strategy, seed, args, data)
                runs.append(result)
                print(
                    f"{strategy:9s} seed {seed}: best {result['best']:.4f}, {result['epochs']} epochs, {result['wall_seconds']:.0f} s",
                    flush=True,
                )
                save(complete=False)
    table, targets = report(runs, args)
    table = header(save(complete=True)) + table
    print(table)
    if not args.save:
        return
    (RESULTS / f"{stem}.md").write_text(table + "\n")
    plot(runs, RESULTS / f"{stem}.png")


if __name__ == "__main__":
    main()
