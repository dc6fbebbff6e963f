"""Sample efficiency of the tuning strategies: Bayesian vs Random vs Hyperband at equal budget.

    .venv/bin/python benchmarks/tune_efficiency.py [--seeds 5] [--trials 15] [--parallel 2]
                                                   [--users 50] [--epochs 6]

On one fixed generated data set (the example's generator, ``--users`` users), each strategy runs
a tuning job of ``--trials`` training jobs with the real trainer, for each ``RandomSeed``, over the
same five ranges. Reported, median and spread (min..max) over the seeds:

- the final best ``validation:discriminator_auc``, the epochs trained and the wall time;
- best-so-far curves against training jobs and against wall time (PNG);
- time to target: training jobs (and seconds) until Bayesian reaches Random's final best on the
  same seed (target: at most 60 % of Random's training jobs, median over seeds);
- Hyperband: its best against the best of the full-budget strategies on the same seed (target:
  within 0.002) and its epochs as a share of Random's (target: at most 40 %).

Prints the Markdown table; with ``--save`` also writes ``benchmarks/results/tune_efficiency.{md,json,png}``
(the committed results). By default nothing is written.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from ipinsights import write_dataset
from ipinsights.tune import TuningJob, parse_job_config, run_job

RESULTS = Path(__file__).resolve().parent / "results"
STRATEGIES = ("Random", "Bayesian", "Hyperband")
RANGES = {
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


def job_document(
    name: str, strategy: str, seed: int, args: argparse.Namespace, data: dict[str, Path]
) -> dict:
    config: dict = {
        "Strategy": strategy,
        "ResourceLimits": {"MaxNumberOfTrainingJobs": args.trials, "MaxParallelTrainingJobs": args.parallel},
        "ParameterRanges": RANGES,
        "RandomSeed": seed,
    }
    if strategy == "Hyperband":
        config["StrategyConfig"] = {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": args.epochs}}
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": config,
        "TrainingJobDefinition": {
            "StaticHyperParameters": {
                "num_entity_vectors": str(2 * args.users),
                "epochs": str(args.epochs),
                "shuffled_negative_sampling_rate": "1",
                "batch_metrics_publish_interval": "100000",
            },
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
    jobs = sorted((j for j in job.training_jobs() if j.final), key=lambda j: (j.end_time, j.number))
    origin = min(j.creation_time for j in jobs).timestamp()
    best, curve, times = -np.inf, [], []
    for j in jobs:
        if j.status == "Completed" and j.value is not None:
            best = max(best, j.value)
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
    seeds = sorted({r["seed"] for r in runs})
    lines = [
        f"Sample efficiency, {args.trials} training jobs per job, {args.parallel} in parallel, {len(seeds)} seeds, "
        f"{args.epochs} epochs per full trial, {args.users} users (median (min..max) over seeds).",
        "",
        "| strategy | final best AUC | epochs trained | wall time (s) | jobs to reach Random's final best | seconds to reach it |",
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
    targets = {
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
    return "\n".join(lines), targets


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
        ylabel="best validation:discriminator_auc so far",
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
        "--report-only", action="store_true", help="redo the table (and, with --save, the plot) from the saved JSON"
    )
    parser.add_argument(
        "--save", action="store_true", help="write benchmarks/results/tune_efficiency.{md,json,png} (committed)"
    )
    args = parser.parse_args()
    if args.report_only:
        saved = json.loads((RESULTS / "tune_efficiency.json").read_text())
        args = argparse.Namespace(**{**vars(args), **saved["args"], "save": args.save})
        table, _ = report(saved["runs"], args)
        print(table)
        if args.save:
            (RESULTS / "tune_efficiency.md").write_text(table + "\n")
            plot(saved["runs"], RESULTS / "tune_efficiency.png")
        return
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    runs = []
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
    table, targets = report(runs, args)
    print(table)
    if not args.save:
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "tune_efficiency.md").write_text(table + "\n")
    (RESULTS / "tune_efficiency.json").write_text(
        json.dumps({"args": vars(args), "targets": targets, "runs": runs}, indent=1, default=float)
    )
    plot(runs, RESULTS / "tune_efficiency.png")


if __name__ == "__main__":
    main()
