"""``ipinsights demo``: the whole story on built-in data, in a few minutes on a laptop.

1. **Generate** a few thousand users' logins over ten days with the public example's generative
   model and the built-in IPv4 → ASN range table (:func:`ipinsights.lab.datasets.write_dataset`):
   train (7 days), validation (1 day), test (2 days), and the four attack sets.
2. **Train** IP Insights on the first week with the example's hyperparameters.
3. **Evaluate** the model and the training-free baselines on the test logins (normal) against
   each attack set (:func:`ipinsights.lab.evaluation.evaluate`).
4. **Report**: print the table, and write ``report.md`` (the table, the pictures, the commands
   that reproduce every step), ``report.json``, one PNG per attack set, the model and the data
   into one folder, whose path is printed last.
"""

from __future__ import annotations

import math
import os
import platform
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ipinsights.errors import ConfigError
from ipinsights.threads import usable_cores

__all__ = ["DemoSettings", "run_demo"]

#: Written into the output folder so that a later run may reuse it (and no other folder).
_MARKER = ".ipinsights-demo"


@dataclass(frozen=True)
class DemoSettings:
    """What the demo generates and trains.

    Attributes:
        num_users: Simulated users.
        seed: Seed of the data, the attack sets and the training.
        epochs: Training epochs.
        num_attacks: Rows per attack set.
        vector_dim, mini_batch_size, random_negative_sampling_rate: As the public example
            (``num_entity_vectors`` is 2 x users rounded up to 100, as it recommends).
        learning_rate, weight_decay: 0.003 and 0 instead of the example's 0.01 and the default
            1e-5: on 3,000 users they raise validation:discriminator_auc from 0.9915 to 0.9945
            (see ``docs/evaluation.md``).
        device: ``auto``, ``cpu`` or ``cuda``.
    """

    num_users: int = 3000
    seed: int = 0
    epochs: int = 5
    num_attacks: int = 20000
    vector_dim: int = 128
    mini_batch_size: int = 1000
    learning_rate: float = 0.003
    weight_decay: float = 0.0
    random_negative_sampling_rate: int = 5
    device: str = "auto"

    @property
    def num_entity_vectors(self) -> int:
        return max(100, math.ceil(2 * self.num_users / 100) * 100)

    def hyperparameters(self) -> dict[str, int | float]:
        return {
            "num_entity_vectors": self.num_entity_vectors,
            "vector_dim": self.vector_dim,
            "random_negative_sampling_rate": self.random_negative_sampling_rate,
            "mini_batch_size": self.mini_batch_size,
            "epochs": self.epochs,
            "learning_rate": self.learning_rate,
            "weight_decay": self.weight_decay,
        }


#: ``--fast``: a tiny run for tests and a first look (seconds, numbers not meaningful).
FAST = DemoSettings(
    num_users=100, epochs=1, num_attacks=300, vector_dim=16, mini_batch_size=500, learning_rate=0.02
)


def _prepare_out(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a directory; choose another --out")
    if out.is_dir() and any(out.iterdir()) and not (out / _MARKER).exists():
        raise ConfigError(
            f"--out {out} exists, is not empty and was not written by ipinsights demo; "
            f"choose another --out (the demo overwrites its own folders only)"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out {out} cannot be created: {exc.strerror or exc}") from None
    (out / _MARKER).write_text("written by ipinsights demo; safe to delete with the folder\n")
    return out


def _commands(settings: DemoSettings, out: Path) -> list[str]:
    data, model = out / "data", out / "model"
    q = shlex.quote
    hp = " ".join(f"--hp {k}={v}" for k, v in settings.hyperparameters().items())
    from ipinsights.lab.attacks import ATTACKS

    attacks = " ".join(f"--attack {name}={q(str(data / f'attack_{name}.csv'))}" for name in ATTACKS)
    return [
        f"ipinsights generate --users {settings.num_users} --seed {settings.seed} "
        f"--attacks {settings.num_attacks} --out {q(str(data))}",
        f"ipinsights train --train {q(str(data / 'train.csv'))} --validation {q(str(data / 'validation.csv'))} "
        f"--model-dir {q(str(model))} --seed {settings.seed} {hp}",
        f"ipinsights evaluate --model-dir {q(str(model))} --normal {q(str(data / 'test.csv'))} {attacks} "
        f"--train {q(str(data / 'train.csv'))} --ranges builtin --out {q(str(out))}",
    ]


def _notes(report: Any) -> list[str]:
    """One honest sentence per attack set: the model against the best baseline."""
    from ipinsights.lab.report import MODEL

    notes = []
    for attack in report.attacks:
        best = attack.best_baseline
        try:
            model = attack.result(MODEL)
        except KeyError:
            continue
        if best is None:
            continue
        delta = model.roc_auc - best.roc_auc
        verdict = "WINS: at least matches" if delta >= 0 else "LOSES to"
        mine, theirs = model.point(0.01), best.point(0.01)
        notes.append(
            f"- **{attack.name}**: the model {verdict} the best baseline on ROC AUC, {model.roc_auc:.4f} against "
            f"`{best.scorer}` {best.roc_auc:.4f} (difference {delta:+.4f}); at 1 % false positives it flags "
            f"{mine.tpr:.1%} of attacks, `{best.scorer}` {theirs.tpr:.1%}."
        )
    return notes


def _write_markdown(
    path: Path,
    report: Any,
    settings: DemoSettings,
    command: str,
    timings: dict[str, float],
    extra: dict[str, Any],
) -> Path:
    import torch

    out = path.parent
    history = extra.get("history") or []
    lines = [
        "# IP Insights demo report",
        "",
        f"Produced by `{command}` in {timings['total']:.0f} s on {extra['machine']}.",
        "",
        "Normal logins are the last two days of users seen in training; each attack set pairs known "
        "users with addresses an attacker might use. Anomaly scores: higher is more suspicious; the "
        "model's is `-score` (the dot product with the entity's history; `ip_insights_dot_product` is the "
        "dot product alone). The bold AUC is the best of its attack set. See "
        "`docs/evaluation.md` for the attack sets, the baselines and how to read this page.",
        "",
        report.markdown_table(),
        "",
        "## Model against the best baseline",
        "",
        *_notes(report),
        "",
        "## Pictures",
        "",
    ]
    for attack in report.attacks:
        png = report.plots.get(attack.name)
        if png:
            lines += [
                f"### {attack.name}",
                "",
                f"![{attack.name}: score histograms and ROC curves]({png})",
                "",
            ]
    lines += [
        "## Data and model",
        "",
        f"- users: {settings.num_users}, seed {settings.seed}; rows: "
        + ", ".join(f"{k} {v:,}" for k, v in extra["rows"].items()),
        f"- hyperparameters: {', '.join(f'{k}={v}' for k, v in settings.hyperparameters().items())} (others default)",
        f"- device: {extra['device']}; torch {torch.__version__}, {torch.get_num_threads()} threads",
    ]
    for i, metrics in enumerate(history, start=1):
        auc = metrics.get("validation:discriminator_auc")
        loss = metrics.get("train:binary_classification_cross_entropy:epoch", float("nan"))
        rate = metrics.get("train:throughput", float("nan"))
        lines.append(
            f"- epoch {i}: loss {loss:.4f}, validation discriminator AUC "
            f"{'n/a' if auc is None else f'{auc:.4f}'}, {rate:,.0f} pairs/s"
        )
    lines += [
        "",
        "## Timings",
        "",
        *(f"- {stage}: {seconds:.1f} s" for stage, seconds in timings.items()),
        "",
        "## Reproduce step by step",
        "",
        "```sh",
        *_commands(settings, out),
        "```",
        "",
        "Files: `data/` (train, validation, test, attack sets), `model/` (the trained model), "
        "`report.json` (every number on this page), `train.log` (SageMaker-style metric lines).",
        "",
        "Range table: IP to ASN data by RouteViews (routeviews.org), the NRO (nro.net) and DB-IP "
        "(db-ip.com), CC BY 4.0, via ip-location-db.",
        "",
    ]
    path.write_text("\n".join(lines))
    return path


def run_demo(
    out: str | os.PathLike[str] = "demo-report",
    settings: DemoSettings | None = None,
    *,
    console: Any = None,
    command: str = "ipinsights demo",
) -> Path:
    """Generate data, train, evaluate against the baselines and write the report folder.

    Args:
        out: Output folder (created; an existing one is reused only if a demo wrote it).
        settings: What to generate and train (:data:`FAST` for a tiny run).
        console: A :class:`rich.console.Console` for the progress output (default: stdout).
        command: The command line to quote in ``report.md``.

    Returns:
        The folder holding ``report.md``, ``report.json``, the PNGs, ``model/`` and ``data/``.

    Raises:
        ConfigError: ``out`` cannot be used or a setting is out of range.
    """
    from rich.console import Console

    from ipinsights.config import HyperParameters
    from ipinsights.estimator import IPInsights
    from ipinsights.lab.attacks import ATTACKS
    from ipinsights.lab.datasets import write_dataset
    from ipinsights.lab.evaluation import evaluate
    from ipinsights.lab.ranges import ATTRIBUTION, RangeTable

    settings = settings if settings is not None else DemoSettings()
    if console is None:
        console = Console()
        if not console.is_terminal:
            console = Console(width=160)
    for name in ("num_users", "epochs", "num_attacks"):
        value = getattr(settings, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {name}={value!r}")
    started = time.perf_counter()
    timings: dict[str, float] = {}
    folder = _prepare_out(Path(out))
    data_dir, model_dir = folder / "data", folder / "model"

    console.rule(f"[bold]1/4 generate[/bold]: {settings.num_users:,} users, 10 days, seed {settings.seed}")
    clock = time.perf_counter()
    ranges = RangeTable.builtin()
    console.print(f"range table: {len(ranges):,} IPv4 ranges ({ATTRIBUTION})")
    paths = write_dataset(
        data_dir,
        num_users=settings.num_users,
        seed=settings.seed,
        ranges=ranges,
        attacks=settings.num_attacks,
    )
    rows = {
        name: _count_lines(path) for name, path in paths.items() if name in ("train", "validation", "test")
    }
    timings["generate"] = time.perf_counter() - clock
    console.print(
        ", ".join(f"{name} {n:,} logins" for name, n in rows.items())
        + f"; {len(ATTACKS)} attack sets of {settings.num_attacks:,} in {data_dir} ({timings['generate']:.1f} s)"
    )

    hp = settings.hyperparameters()
    console.rule(f"[bold]2/4 train[/bold]: {', '.join(f'{k}={v}' for k, v in hp.items())}")
    clock = time.perf_counter()

    def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
        auc = metrics.get("validation:discriminator_auc", float("nan"))
        console.print(
            f"epoch {epoch}/{settings.epochs}: loss {metrics['train:binary_classification_cross_entropy:epoch']:.4f}, "
            f"validation discriminator AUC {auc:.4f}, {metrics['train:throughput']:,.0f} pairs/s "
            f"({time.perf_counter() - clock:.0f} s)"
        )

    model = IPInsights(HyperParameters.from_mapping(hp), seed=settings.seed, device=settings.device)
    with (folder / "train.log").open("w") as log:
        model.fit(paths["train"], validation=paths["validation"], callbacks=[on_epoch], log=log)
    model.save(model_dir)
    timings["train"] = time.perf_counter() - clock
    console.print(f"model written to {model_dir} ({timings['train']:.1f} s on {model.device})")

    console.rule("[bold]3/4 evaluate[/bold]: model and baselines on the same pairs")
    clock = time.perf_counter()
    attacks = {name: paths[f"attack_{name}"] for name in ATTACKS}
    report = evaluate(model, paths["test"], attacks, paths["train"], ranges)
    report.meta["model"]["model_dir"] = str(model_dir)
    timings["evaluate"] = time.perf_counter() - clock
    console.print(
        f"scored {report.meta['normal']['rows']:,} normal logins and {len(attacks)} attack sets ({timings['evaluate']:.1f} s)"
    )

    console.rule("[bold]4/4 report[/bold]")
    clock = time.perf_counter()
    console.print(report.table())
    for note in _notes(report):
        console.print(note.replace("**", "").replace("`", ""), markup=False)
    report.meta["demo"] = {
        "command": command,
        "settings": settings.__dict__ | {"num_entity_vectors": settings.num_entity_vectors},
    }
    report.write(folder)
    timings["report"] = time.perf_counter() - clock
    timings["total"] = time.perf_counter() - started
    report.meta["demo"]["timings"] = {k: round(v, 2) for k, v in timings.items()}
    report.write_json(folder / "report.json")
    machine = f"{platform.system()} {platform.machine()}, {usable_cores()} CPU cores, device {model.device}"
    _write_markdown(
        folder / "report.md",
        report,
        settings,
        command,
        timings,
        {"history": model.history_, "machine": machine, "device": str(model.device), "rows": rows},
    )
    console.print(f"done in {timings['total']:.0f} s; report: {folder / 'report.md'}")
    console.print(str(folder.resolve()), markup=False, highlight=False)
    return folder




def _count_lines(path: Path) -> int:
    with Path(path).open("rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
