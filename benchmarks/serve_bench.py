"""Serving and batch-scoring speed: ``python benchmarks/serve_bench.py``.

Measures, for a model with ``num_entity_vectors=100000 vector_dim=128`` (untrained: scoring
speed does not depend on the weights):

* single-pair ``POST /invocations`` (CSV in, JSON out): latency p50 / p99 and requests/s at
  concurrency 1, 8 and 32, for 1 and 2 worker processes;
* pairs/s in 1,000-pair CSV requests (concurrency 8);
* ``ipinsights predict`` on 1,000,000- and 10,000,000-row CSV files written as CSV and as JSON
  Lines: pairs/s after start-up (the extra rows over the extra time), peak resident memory of the
  process and its workers for both sizes, and a 10M-row run killed halfway (the previous output
  must stay whole, no partial file).

Load comes from ``wrk`` (``apt-get install wrk``), a C load generator that leaves the CPU to the
server; without it, from a Python asyncio client in its own process (slower: it competes with the
server for the same cores). The server's CPU time per request is read from ``/proc``, so that the
capacity of an otherwise idle machine can be told apart from what a busy shared one gave.

Prints a table; writes ``benchmarks/results/serve.json`` with ``--save`` (or ``--out PATH``).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "serve.json"
CLI = "import sys; from ipinsights import cli; sys.exit(cli.main(sys.argv[1:]))"
NUM_ENTITY_VECTORS, VECTOR_DIM = 100_000, 128
NUM_USERS = 60_000


def logins(num_rows: int, seed: int) -> bytes:
    """``user_i,a.b.c.d`` rows, each user in a /16 of its own."""
    rng = np.random.default_rng(seed)
    user = rng.integers(0, NUM_USERS, num_rows)
    a, b = 11 + (user * 7) % 200, (user * 13) % 256
    c, d = rng.integers(0, 256, num_rows), rng.integers(1, 255, num_rows)
    return "".join(
        f"user_{u},{p}.{q}.{r}.{s}\n"
        for u, p, q, r, s in zip(user.tolist(), a.tolist(), b.tolist(), c.tolist(), d.tolist(), strict=True)
    ).encode()


def build_model(path: Path) -> Path:
    """A full-size model, briefly trained (one epoch on 20k rows): the speed is that of any model."""
    from ipinsights import IPInsights

    if (path / "model.json").exists():
        return path
    train = path.parent / "train.csv"
    train.write_bytes(logins(20_000, seed=1))
    model = IPInsights(
        num_entity_vectors=NUM_ENTITY_VECTORS, vector_dim=VECTOR_DIM, epochs=1, mini_batch_size=1000
    )
    return model.fit(train, log=None, progress=False).save(path)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and all its descendants (the worker processes)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        p = int(stat.parent.name)
        parents[p] = int(fields[1])
        times[p] = sum(int(x) for x in fields[11:13]) / tick  # utime, stime
    family, total = {pid}, 0.0
    for _ in range(4):  # descendants a few levels down
        family |= {p for p, parent in parents.items() if parent in family}
    for p in family:
        total += times.get(p, 0.0)
    return total


class Server:
    def __init__(self, model_dir: Path, workers: int, log: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-c", CLI, "serve", "--model-dir", str(model_dir), "--port", str(self.port),
                 "--workers", str(workers)],
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        import httpx

        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited:\n{log.read_text()}")
            try:
                if httpx.get(f"{self.url}/ping", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        time.sleep(2 if workers > 1 else 0)  # let every worker finish loading

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def wrk(url: str, body: bytes, concurrency: int, seconds: float, work: Path) -> dict[str, Any]:
    script = work / "post.lua"
    script.write_text(
        f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "text/csv"\nwrk.body = [==[{body.decode()}]==]\n'
    )
    out = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:g}s", "--latency", "-s", str(script), f"{url}/invocations"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: .*", out)
    return {
        "requests": requests,
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": ms("50%"),
        "p99_ms": ms("99%"),
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(0) if errors else "",
    }


_ASYNC_CLIENT = """
import asyncio, json, sys, time, httpx
url, body, concurrency, seconds = sys.argv[1], open(sys.argv[2], "rb").read(), int(sys.argv[3]), float(sys.argv[4])
async def main():
    latencies, bad = [], 0
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency)) as client:
        stop = time.perf_counter() + seconds
        async def user():
            nonlocal bad
            while time.perf_counter() < stop:
                t = time.perf_counter()
                r = await client.post(url + "/invocations", content=body, headers={"Content-Type": "text/csv"})
                latencies.append(time.perf_counter() - t); bad += r.status_code != 200
        started = time.perf_counter()
        await asyncio.gather(*(user() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    print(json.dumps({"requests": len(latencies), "requests_per_s": len(latencies) / elapsed,
        "p50_ms": 1e3 * latencies[len(latencies) // 2], "p99_ms": 1e3 * latencies[int(len(latencies) * 0.99)],
        "non_2xx": bad, "socket_errors": ""}))
asyncio.run(main())
"""


def async_client(url: str, body: bytes, concurrency: int, seconds: float, work: Path) -> dict[str, Any]:
    path = work / "body.csv"
    path.write_bytes(body)
    out = subprocess.run(
        [sys.executable, "-c", _ASYNC_CLIENT, url, str(path), str(concurrency), str(seconds)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return json.loads(out)


def load(server: Server, body: bytes, concurrency: int, seconds: float, work: Path) -> dict[str, Any]:
    generator = wrk if shutil.which("wrk") else async_client
    before = cpu_seconds(server.process.pid)
    result = generator(server.url, body, concurrency, seconds, work)
    used = cpu_seconds(server.process.pid) - before
    result["server_cpu_ms_per_request"] = 1e3 * used / max(1, result["requests"])
    return result


def tree_usage(pid: int) -> dict[int, tuple[int, float]]:
    """``{pid: (resident bytes, CPU seconds)}`` of a process and its descendants (predict's workers), now."""
    parents: dict[int, int] = {}
    usage: dict[int, tuple[int, float]] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        p = int(stat.parent.name)
        parents[p] = int(fields[1])
        # utime + stime, and resident pages (field 24 of stat)
        usage[p] = (int(fields[21]) * os.sysconf("SC_PAGE_SIZE"), (int(fields[11]) + int(fields[12])) / tick)
    family = {pid}
    for _ in range(4):
        family |= {p for p, parent in parents.items() if parent in family}
    return {p: usage[p] for p in family if p in usage}


def input_position(pid: int, path: Path) -> int | None:
    """How far the process has read ``path`` (its file offset, from ``/proc/PID/fdinfo``)."""
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd) == str(path):
                    return int(Path(f"/proc/{pid}/fdinfo/{fd.name}").read_text().split()[1])
    return None


def run_predict(command: list[str], env: dict[str, str], source: Path, rows: int) -> dict[str, float]:
    """Wall time, CPU time, peak resident memory (of the process tree, sampled every 50 ms) and
    the rate after start-up of one run.

    Start-up ends when the input has been read past what the workers' read-ahead can hold
    (24 MB: by then scored chunks have come back); the rate after it is the rows of the rest of
    the file (by its bytes) over the rest of the time."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE)
    peak, size, warm_at, warm_position = 0, source.stat().st_size, None, 0
    cpu_by_pid: dict[int, float] = {}  # each process's last CPU time seen (workers exit at the end)
    while process.poll() is None:
        usage = tree_usage(process.pid)
        peak = max(peak, sum(rss for rss, _ in usage.values()))
        cpu_by_pid |= {p: cpu for p, (_, cpu) in usage.items()}
        if warm_at is None:
            position = input_position(process.pid, source)
            if position is not None and position >= min(24 << 20, size // 2):
                warm_at, warm_position = time.perf_counter(), position
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    cpu = sum(cpu_by_pid.values())  # to within the last 50 ms of each process
    if process.returncode != 0:
        raise SystemExit(
            f"{' '.join(command)} failed: {process.stderr.read().decode() if process.stderr else ''}"
        )
    rest = (
        rows * (size - warm_position) / size / (started + seconds - warm_at)
        if warm_at is not None
        else float("nan")
    )
    return {"seconds": seconds, "cpu_seconds": cpu, "peak_rss_bytes": peak, "pairs_per_s_after_warm_up": rest}


def bench_predict(model_dir: Path, work: Path, small: int, large: int, threads: str) -> dict[str, Any]:
    """``ipinsights predict`` CSV -> CSV and CSV -> JSON Lines on ``small`` and ``large`` rows.

    Throughput after start-up is the extra rows over the extra time, ``(large - small) /
    (t_large - t_small)``: start-up (imports, loading and folding the model, starting worker
    processes) is paid once in both runs and cancels. Then a ``large``-row run is killed
    (SIGKILL, with its workers) halfway and the previous output and the folder are checked.
    """
    block = logins(min(small, 1_000_000), seed=2)
    paths = {}
    for rows in (small, large):
        paths[rows] = work / f"pairs{rows}.csv"
        with open(paths[rows], "wb") as fh:
            for _ in range(rows // min(small, 1_000_000)):
                fh.write(block)
    env = dict(os.environ)
    command = [
        sys.executable,
        "-m",
        "ipinsights.cli",
        "predict",
        "--model-dir",
        str(model_dir),
        "--threads",
        threads,
    ]
    results: dict[str, Any] = {"rows_small": small, "rows_large": large, "threads": threads, "runs": {}}
    out_dir = work / "out"
    out_dir.mkdir()
    for accept, suffix in (("text/csv", "csv"), ("application/jsonlines", "jsonl")):
        runs = {}
        for rows in (small, large):
            target = out_dir / f"scores.{suffix}"
            runs[rows] = run_predict(
                [*command, "--input", str(paths[rows]), "--output", str(target), "--accept", accept],
                env,
                paths[rows],
                rows,
            )
            with open(target, "rb") as fh:
                lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 24), b""))
            if lines != rows:
                raise SystemExit(f"predict wrote {lines} lines for {rows} rows")
            runs[rows]["load_average_after"] = os.getloadavg()
            print(f"predict {accept} {rows:,} rows: {runs[rows]}", file=sys.stderr)
        extra = runs[large]["seconds"] - runs[small]["seconds"]
        results["runs"][accept] = {
            "small": runs[small],
            "large": runs[large],
            "pairs_per_s_after_start_up": (large - small) / extra if extra > 0 else float("nan"),
            "pairs_per_s_after_warm_up_large": runs[large]["pairs_per_s_after_warm_up"],
            # CPU time is what a busy shared machine does not dilute: pairs per CPU-second after
            # start-up, times the cores, is what an otherwise idle machine could do at most.
            "pairs_per_cpu_s_after_start_up": (large - small)
            / (runs[large]["cpu_seconds"] - runs[small]["cpu_seconds"]),
            "end_to_end_pairs_per_s_large": large / runs[large]["seconds"],
            "peak_rss_ratio_large_to_small": runs[large]["peak_rss_bytes"] / runs[small]["peak_rss_bytes"],
        }
    # Kill halfway: the previous output must stay as it was, and nothing else may be left.
    target = out_dir / "scores.csv"
    target.write_bytes(b"previous, complete output\n")
    before = sorted(p.name for p in out_dir.iterdir())
    half = results["runs"]["text/csv"]["large"]["seconds"] / 2
    process = subprocess.Popen(
        [*command, "--input", str(paths[large]), "--output", str(target), "--accept", "text/csv"],
        env=env, start_new_session=True, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(half)
    still_running = process.poll() is None
    os.killpg(process.pid, 9)  # the process and its worker processes, as a kill -9 of the job would
    process.wait()
    results["kill_halfway"] = {
        "killed_after_s": half,
        "was_running": still_running,
        "previous_output_intact": target.read_bytes() == b"previous, complete output\n",
        "files_before": before,
        "files_after": sorted(p.name for p in out_dir.iterdir()),
    }
    print(f"kill halfway: {results['kill_halfway']}", file=sys.stderr)
    return results


def machine() -> dict[str, object]:
    cpu = "unknown"
    with contextlib.suppress(OSError, StopIteration):
        info = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "load_generator": "wrk" if shutil.which("wrk") else "python asyncio httpx client",
        "http_parser": "httptools" if importlib.util.find_spec("httptools") else "h11",
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10, help="duration of each load run (default: 10)")
    parser.add_argument(
        "--workers",
        type=int,
        nargs="*",
        default=[1, 2],
        help="worker counts, none: skip serving (default: 1 2)",
    )
    parser.add_argument(
        "--predict-rows",
        type=int,
        nargs=2,
        default=[1_000_000, 10_000_000],
        metavar=("SMALL", "LARGE"),
        help="rows of the two predict runs (a multiple of SMALL), 0 0: skip (default: 1e6 1e7)",
    )
    parser.add_argument("--predict-threads", default="auto", help="predict's --threads (default: auto)")
    parser.add_argument("--model-dir", type=Path, default=None, help="reuse this model (default: build one)")
    parser.add_argument(
        "--save", action="store_true", help=f"write the results to {RESULTS.relative_to(ROOT)}"
    )
    parser.add_argument("--out", type=Path, default=None, help="write the results to this JSON file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="serve_bench_") as tmp:
        work = Path(tmp)
        model_dir = args.model_dir or build_model(work / "model")
        results: dict[str, Any] = {"machine_before": machine(), "serve": [], "command": " ".join(sys.argv)}
        single = logins(1, seed=3)
        thousand = logins(1000, seed=4)
        for workers in args.workers:
            server = Server(model_dir, workers, work / f"server{workers}.log")
            try:
                for concurrency in (1, 8, 32):
                    run = load(server, single, concurrency, args.seconds, work)
                    results["serve"].append(
                        {"workers": workers, "pairs_per_request": 1, "concurrency": concurrency, **run}
                    )
                    print(f"workers={workers} 1 pair   c={concurrency:<3} {run}", file=sys.stderr)
                run = load(server, thousand, 8, args.seconds, work)
                run["pairs_per_s"] = run["requests_per_s"] * 1000
                results["serve"].append(
                    {"workers": workers, "pairs_per_request": 1000, "concurrency": 8, **run}
                )
                print(f"workers={workers} 1000 pairs c=8 {run}", file=sys.stderr)
            finally:
                server.stop()
        if args.predict_rows[0]:
            results["predict"] = bench_predict(model_dir, work, *args.predict_rows, args.predict_threads)
        results["machine_after"] = machine()

    out = args.out or (RESULTS if args.save else None)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    return 0


def table(results: dict) -> str:
    m = results["machine_before"]
    lines = [
        f"machine: {m['cpu']}, {m['cores']} cores, load average {m['load_average'][0]:.1f} before / "
        f"{results['machine_after']['load_average'][0]:.1f} after; load from {m['load_generator']}; "
        f"HTTP parser {m['http_parser']}",
        "",
        "| workers | request | concurrency | requests/s | pairs/s | p50 ms | p99 ms | server CPU ms/request | errors |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results["serve"]:
        pairs = r["requests_per_s"] * r["pairs_per_request"]
        lines.append(
            f"| {r['workers']} | {r['pairs_per_request']} pair{'s' if r['pairs_per_request'] > 1 else ''} CSV "
            f"| {r['concurrency']} | {r['requests_per_s']:,.0f} | {pairs:,.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} "
            f"| {r['server_cpu_ms_per_request']:.2f} | {r['non_2xx']} |"
        )
    if "predict" not in results:
        return "\n".join(lines)
    p = results["predict"]
    lines += [
        "",
        f"ipinsights predict --threads {p['threads']}, CSV file in, {p['rows_small']:,} and {p['rows_large']:,} rows:",
        "",
        "| output | s, small | s, large | pairs/s after start-up (large - small) | pairs/s after warm-up (large run) | pairs/CPU-s after start-up | end to end pairs/s, large | peak RSS small | peak RSS large | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for accept, r in p["runs"].items():
        lines.append(
            f"| {accept} | {r['small']['seconds']:.1f} | {r['large']['seconds']:.1f} "
            f"| {r['pairs_per_s_after_start_up']:,.0f} | {r['pairs_per_s_after_warm_up_large']:,.0f} "
            f"| {r['pairs_per_cpu_s_after_start_up']:,.0f} "
            f"| {r['end_to_end_pairs_per_s_large']:,.0f} "
            f"| {r['small']['peak_rss_bytes'] / 1e9:.2f} GB | {r['large']['peak_rss_bytes'] / 1e9:.2f} GB "
            f"| {r['peak_rss_ratio_large_to_small']:.2f} |"
        )
    k = p["kill_halfway"]
    lines.append(
        f"\nkilled (SIGKILL) after {k['killed_after_s']:.1f} s (running: {k['was_running']}): previous output intact: "
        f"{k['previous_output_intact']}; files before {k['files_before']}, after {k['files_after']}"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
