"""Training speed, memory and quality of ipinsights next to a straightforward PyTorch reference.

    .venv/bin/python benchmarks/train_bench.py [--quick] [--epochs 5] [--users 3000] [--seed 7]

Generates the public example's login data (``write_dataset(num_users=3000)``: ≈ 670,000
training rows, ≈ 95,000 validation rows), then measures on this machine, each configuration in
its own process, so that its peak memory is its own (``VmHWM``, the high-water mark of the
process's resident set; ``getrusage``'s ``ru_maxrss`` would also count the harness's memory,
which Linux carries over ``fork`` + ``exec``):

* CSV reading and parsing, rows per second: ``parse_csv_bytes`` on the file's bytes,
  ``read_pairs`` on the path (read + parse + checks), and the reference's pandas reader;
* training throughput in observed pairs per second (and scored pairs per second, including the
  R + S negatives of each pair) at the example's settings (``num_entity_vectors=20000,
  vector_dim=128, R=5, S=1, mini_batch_size=1000, learning_rate=0.01``) and at the large
  setting (``num_entity_vectors=1000000, mini_batch_size=10000``), for ipinsights with one
  process and one thread, one process and two threads, and two data-parallel processes
  (torch.distributed, gloo), and for the reference implementation (``reference_impl.py``);
* the validation AUC of each after the same epochs on the same data.

Throughput is reported for the epochs after the first ("steady": the first pays for the
memory the process touches for the first time) and over all epochs. ``pairs/CPU-s`` divides by
the process's CPU time instead of wall time: on a machine shared with other work it shows the
cost of a pair when the wall-clock figure is diluted by the load (noted with each row).
Results: a table on stdout; with ``--save`` also ``benchmarks/results/train.json`` (``parse.json``
with ``--parsing-only``: the committed results), with ``--out PATH`` anywhere else. By default nothing is written.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = dict(
    num_entity_vectors=20_000,
    vector_dim=128,
    random_negative_sampling_rate=5,
    shuffled_negative_sampling_rate=1,
    mini_batch_size=1000,
    learning_rate=0.01,
)
LARGE = {**EXAMPLE, "num_entity_vectors": 1_000_000, "mini_batch_size": 10_000}

# (name, implementation, setting, processes, threads per process)
CONFIGS = [
    ("ipinsights example 1x1", "ipinsights", "example", 1, 1),
    ("ipinsights example 1x2", "ipinsights", "example", 1, 2),
    ("ipinsights example 2x1", "ipinsights", "example", 2, 1),
    ("reference example 1x1", "reference", "example", 1, 1),
    ("reference example 1x2", "reference", "example", 1, 2),
    ("ipinsights large 1x1", "ipinsights", "large", 1, 1),
    ("ipinsights large 2x1", "ipinsights", "large", 2, 1),
    ("ipinsights example-batch10k 1x1", "ipinsights", "example-batch10k", 1, 1),
    ("reference large 1x1", "reference", "large", 1, 1),
]
QUICK = ["ipinsights example 1x1", "ipinsights example 2x1", "reference example 1x1", "ipinsights large 1x1"]
SETTINGS = {"example": EXAMPLE, "large": LARGE, "example-batch10k": {**EXAMPLE, "mini_batch_size": 10_000}}


def _peak_rss_mb() -> float:
    """This process's peak resident set in MiB (``VmHWM``; ``ru_maxrss`` where /proc is absent)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


# -- one configuration, in its own process ------------------------------------------------------


def _worker(spec: dict) -> None:
    import torch

    torch.set_num_threads(spec["threads"])
    from ipinsights.config import HyperParameters
    from ipinsights.data import read_pairs
    from ipinsights.entities import entity_rows
    from ipinsights.train import PairTensors, validation_auc

    hp = HyperParameters.from_mapping(
        {**SETTINGS[spec["setting"]], "epochs": spec["epochs"], "batch_metrics_publish_interval": 1_000_000}
    )
    load_before = _load()
    marks: list[tuple[float, float]] = [(time.perf_counter(), time.process_time())]

    def mark(*_: object) -> None:
        marks.append((time.perf_counter(), time.process_time()))

    if spec["impl"] == "reference":
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from reference_impl import read_reference, train_reference

        train = read_reference(spec["train"], hp.num_entity_vectors)
        validation = read_reference(spec["validation"], hp.num_entity_vectors)
        marks[0] = (time.perf_counter(), time.process_time())
        net, _ = train_reference(train, hp, seed=spec["seed"], on_epoch=mark)
        rank = 0
    else:
        from ipinsights import IPInsights
        from ipinsights.distributed import from_environment

        data_parallel = from_environment("cpu")
        rank = data_parallel.rank if data_parallel is not None else 0
        pairs = read_pairs(spec["train"])
        val = read_pairs(spec["validation"])
        validation = PairTensors(
            torch.from_numpy(entity_rows(val.entity_hash, hp.num_entity_vectors)),
            torch.from_numpy(val.ip_hi),
            torch.from_numpy(val.ip_lo),
        )
        model = IPInsights(hp, seed=spec["seed"], device="cpu")
        marks[0] = (time.perf_counter(), time.process_time())
        model.fit(pairs, log=None, progress=False, callbacks=[lambda e, m: mark()])
        net = model.net
        if data_parallel is not None:
            data_parallel.close()
        train = pairs
    n = len(train)
    result = {
        "rank": rank,
        "rows": n,
        "load_before": load_before,
        "load_after": _load(),
        "max_rss_mb": _peak_rss_mb(),
    }
    if rank == 0:
        walls = [b[0] - a[0] for a, b in itertools.pairwise(marks)]
        cpus = [b[1] - a[1] for a, b in itertools.pairwise(marks)]
        steady = slice(1, None) if len(walls) > 1 else slice(None)
        result.update(
            epoch_seconds=walls,
            epoch_cpu_seconds=cpus,
            pairs_per_s=n * len(walls[steady]) / sum(walls[steady]),
            pairs_per_s_all_epochs=n * len(walls) / sum(walls),
            pairs_per_cpu_s=n * len(cpus[steady]) / sum(cpus[steady]),
            validation_auc=validation_auc(net, validation),
        )
    print("RESULT " + json.dumps(result), flush=True)


def _run_config(name: str, impl: str, setting: str, nproc: int, threads: int, common: dict) -> dict:
    spec = json.dumps({**common, "impl": impl, "setting": setting, "threads": threads})
    script = [str(Path(__file__).resolve()), "--worker", spec]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    if nproc > 1:
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc-per-node={nproc}",
            *script,
        ]
    else:
        cmd = [sys.executable, *script]
    started = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    if out.returncode != 0:
        raise SystemExit(f"{name} failed:\n{out.stderr[-3000:]}")
    lines = [json.loads(line.split("RESULT ", 1)[1]) for line in out.stdout.splitlines() if "RESULT " in line]
    main = next(r for r in lines if r["rank"] == 0)
    setting_hp = SETTINGS[setting]
    per_pair = 1 + setting_hp["random_negative_sampling_rate"] + setting_hp["shuffled_negative_sampling_rate"]
    return {
        **main,
        "name": name,
        "impl": impl,
        "setting": setting,
        "processes": nproc,
        "threads": threads,
        "scored_pairs_per_s": main["pairs_per_s"] * per_pair,
        "max_rss_mb": max(r["max_rss_mb"] for r in lines),
        "max_rss_mb_all_workers": sum(r["max_rss_mb"] for r in lines),
        "process_seconds": time.perf_counter() - started,
    }


# -- CSV parsing --------------------------------------------------------------------------------


_READERS = ("parse_csv_bytes (bytes in memory)", "read_pairs (file)", "reference: pandas + str.split")


def _parsing_worker(spec: dict) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from reference_impl import read_reference

    from ipinsights.data import parse_csv_bytes, read_pairs

    path = Path(spec["train"])
    data = path.read_bytes()
    read = {
        _READERS[0]: lambda: len(parse_csv_bytes(data).line),
        _READERS[1]: lambda: len(read_pairs(path)),
        _READERS[2]: lambda: len(read_reference(str(path), 20_000)),
    }[spec["reader"]]
    speeds = []
    for _ in range(spec["repeats"]):
        started = time.perf_counter()
        rows = read()
        speeds.append(rows / (time.perf_counter() - started))
    print(
        "RESULT " + json.dumps({"rows": rows, "mb": len(data) / 1e6, "speeds": speeds, "load": _load()}),
        flush=True,
    )


def _parsing(paths: dict[str, Path], repeats: int) -> dict:
    """CSV reading speeds, each reader in a fresh process: its first call and its best of ``repeats``."""
    results = {}
    for reader in _READERS:
        spec = json.dumps({"train": str(paths["train"]), "repeats": repeats, "reader": reader})
        out = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--parse-worker", spec],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        )
        results[reader] = json.loads(
            next(line for line in out.stdout.splitlines() if line.startswith("RESULT "))[7:]
        )
    first = next(iter(results.values()))
    return {
        "rows": first["rows"],
        "mb": first["mb"],
        "rows_per_s": {name: max(r["speeds"]) for name, r in results.items()},
        "first_call_rows_per_s": {name: r["speeds"][0] for name, r in results.items()},
        "load": first["load"],
    }


# -- main ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="2 epochs, 4 configurations")
    parser.add_argument(
        "--repeats", type=int, default=1, help="runs per configuration; the fastest is reported"
    )
    parser.add_argument("--epochs", type=int, default=None, help="epochs per run (default 5; --quick: 2)")
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--configs", nargs="+", default=None, help="names from CONFIGS (default: all, or QUICK)"
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="where the generated data is kept (default: a temp dir reused by seed and users)",
    )
    parser.add_argument(
        "--parsing-only", action="store_true", help="measure only CSV reading (write --out with no training results)"
    )
    parser.add_argument(
        "--save",
        action="store_true",
        help="write benchmarks/results/train.json (--parsing-only: parse.json), the committed results",
    )
    parser.add_argument("--out", default=None, help="write the JSON results here (default: print only)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--parse-worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return _worker(json.loads(args.worker))
    if args.parse_worker:
        return _parsing_worker(json.loads(args.parse_worker))

    from ipinsights.lab import write_dataset

    epochs = args.epochs or (2 if args.quick else 5)
    data_dir = Path(
        args.data_dir or Path(tempfile.gettempdir()) / f"ipinsights-bench-{args.users}-{args.seed}"
    )
    if not (data_dir / "validation.csv").exists():
        write_dataset(data_dir, num_users=args.users, seed=args.seed)
    paths = {"train": data_dir / "train.csv", "validation": data_dir / "validation.csv"}
    import torch

    machine = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "load_at_start": _load(),
    }
    print(f"machine: {machine}", flush=True)
    parsing = _parsing(paths, repeats=3 if args.quick else 5)
    print(
        f"CSV ({parsing['rows']:,} rows, {parsing['mb']:.1f} MB): "
        + ", ".join(f"{k} {v:,.0f} rows/s" for k, v in parsing["rows_per_s"].items()),
        flush=True,
    )
    names = [] if args.parsing_only else args.configs or (QUICK if args.quick else [c[0] for c in CONFIGS])
    common = {
        "train": str(paths["train"]),
        "validation": str(paths["validation"]),
        "epochs": epochs,
        "seed": args.seed,
    }
    results = []
    for config in CONFIGS:
        if config[0] in names:
            # On a shared machine the load comes and goes: keep the fastest of the repeats.
            runs = [_run_config(*config, common=common) for _ in range(args.repeats)]
            result = {
                **max(runs, key=lambda r: r["pairs_per_s"]),
                "repeats": len(runs),
                "pairs_per_s_of_repeats": [r["pairs_per_s"] for r in runs],
            }
            results.append(result)
            print(
                json.dumps(
                    {
                        k: (round(v, 4) if isinstance(v, float) else v)
                        for k, v in result.items()
                        if k not in ("epoch_seconds", "epoch_cpu_seconds")
                    }
                ),
                flush=True,
            )
    committed = ROOT / "benchmarks" / "results" / ("parse.json" if args.parsing_only else "train.json")
    out = Path(args.out) if args.out else committed if args.save else None
    if out is None:
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "command": " ".join(sys.argv),
                "machine": machine,
                "epochs": epochs,
                "users": args.users,
                "repeats": args.repeats,
                "seed": args.seed,
                "parsing": parsing,
                "results": results,
            },
            indent=2,
        )
    )
    print()
    print(table(results, parsing, epochs))


def table(results: list[dict], parsing: dict, epochs: int) -> str:
    """The Markdown table of a run (also used for docs/performance.md)."""
    ref = {r["setting"]: r for r in results if r["impl"] == "reference" and r["threads"] == 1}
    lines = [
        f"| configuration | processes x threads | observed pairs/s | scored pairs/s | all {epochs} epochs | pairs/CPU-s "
        f"| vs reference | validation AUC | peak RSS | load (1/5/15 min) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        base = ref.get(r["setting"])
        ratio = (
            f"{r['pairs_per_s'] / base['pairs_per_s']:.2f}x"
            if base and r is not base
            else "1x"
            if r is base
            else ""
        )
        lines.append(
            f"| {r['impl']} {r['setting']} | {r['processes']} x {r['threads']} | {r['pairs_per_s']:,.0f} "
            f"| {r['scored_pairs_per_s']:,.0f} | {r['pairs_per_s_all_epochs']:,.0f} | {r['pairs_per_cpu_s']:,.0f} | {ratio} "
            f"| {r['validation_auc']:.4f} | {r['max_rss_mb'] / 1024:.2f} GB | {r['load_before']} |"
        )
    lines.append("")
    lines.append(f"| CSV reader ({parsing['rows']:,} rows) | rows/s, best of runs | rows/s, first call |")
    lines.append("|---|---|---|")
    for name, value in parsing["rows_per_s"].items():
        lines.append(f"| {name} | {value:,.0f} | {parsing['first_call_rows_per_s'][name]:,.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
