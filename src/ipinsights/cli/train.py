"""``ipinsights train``: read the logins, fit, save; with ``--nproc N``, start N data-parallel workers.

The hyperparameters come from ``--hyperparameters FILE.json`` (SageMaker's form, string values
allowed) and ``--hp NAME=VALUE``; their table at the end of ``--help`` is generated from
:class:`~ipinsights.config.HyperParameters`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ipinsights.cli._common import HelpFormatter, add_format_arguments, command_line
from ipinsights.config import HyperParameters, platform_keys
from ipinsights.errors import ConfigError
from ipinsights.threads import THREADS_HELP, choose_threads, use_threads

if TYPE_CHECKING:
    from ipinsights.data import Pairs


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``ipinsights train``."""
    p = subparsers.add_parser(
        "train",
        help="train a model on entity,ip CSV or a log (--format)",
        description="Train IP Insights on logins (headerless entity,ip CSV, or a log in --format) and write a "
        "model directory. Metric lines in SageMaker's format go to stdout.",
        epilog=_hyperparameter_table(),
        formatter_class=HelpFormatter,
    )
    _add_options(p)
    p.set_defaults(run=_run_train)


def _add_options(p: argparse.ArgumentParser) -> None:
    """Every option of ``train``: the parser of the command, and the one its workers' command line is written from."""
    p.add_argument("--train", required=True, help="training channel: a CSV file, .gz file, directory of files, or - for stdin")
    p.add_argument("--validation", default=None, help="validation channel: enables the validation metrics each epoch (validation:discriminator_auc, the reference's; other_users_auc, nearby_auc, nearby_24_auc, populated_auc, roaming_auc and the mean of all six, detection_auc: docs/design.md) and the combined 'score' fitted on it")
    p.add_argument("--model-dir", required=True, help="where to write the model artifact")
    p.add_argument("--hyperparameters", default=None, metavar="FILE.json", help="SageMaker-style hyperparameters.json (string values allowed)")
    p.add_argument("--hp", action="append", default=[], metavar="NAME=VALUE", help="set one hyperparameter (repeatable; overrides the file)")
    p.add_argument("--seed", type=int, default=0, help="seed for initialisation, shuffling and negative sampling")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    p.add_argument("--max-bad-fraction", type=float, default=0.01, help="stop before training if more than this share of rows is bad")
    p.add_argument("--ip-encoder", choices=("prefix", "prefix24", "prefix32", "bits"), default="prefix", help="IP encoder design (see docs/design.md)")
    p.add_argument("--threads", default="auto", metavar="N|auto", help=THREADS_HELP)
    p.add_argument("--reference", action="store_true", help="reference-faithful mode: the reference's negatives only (nearby_negative_sampling_rate=0) and no combined 'score' beside dot_product (docs/design.md)")
    p.add_argument("--nproc", type=int, default=1, metavar="N", help="train with N data-parallel worker processes on this machine (torch.distributed; see docs/performance.md); under torchrun, leave it at 1")
    p.add_argument("--auto-size", action="store_true", help="choose, from the training data, the sizes you did not set: mini_batch_size (about 100 steps per epoch, or SageMaker's 10000 when that gives more), num_entity_vectors (2x the distinct entities, SageMaker's advice) and vector_dim (128); says what it chose and why on stderr (ipinsights.autosize); --hp NAME=auto chooses one of them alone; without either, SageMaker's defaults")
    add_format_arguments(p)


def _run_train(args: argparse.Namespace) -> int:
    if args.nproc < 1:
        raise ConfigError(f"--nproc must be a positive number of worker processes, got --nproc {args.nproc}")
    from ipinsights.autosize import auto_requested

    # The sizes asked for (--auto-size, --hp NAME=auto) wait for the data; a bad value of any other
    # fails now, before any worker starts or data is read.
    values, auto_names = auto_requested(_hyperparameter_values(args.hyperparameters, args.hp), args.auto_size)
    hp = HyperParameters.from_mapping(_size_placeholders(values, auto_names))
    if args.reference:
        if any(item.split("=", 1)[0].strip() == "nearby_negative_sampling_rate" for item in args.hp) and hp.nearby_negative_sampling_rate:
            raise ConfigError("--reference trains with the reference's negatives only; leave out --hp nearby_negative_sampling_rate")
        hp = hp.replace(nearby_negative_sampling_rate=0)
        values["nearby_negative_sampling_rate"] = 0
    threads = choose_threads(args.threads)  # likewise
    if args.nproc > 1:
        if "WORLD_SIZE" in os.environ:
            raise ConfigError("--nproc starts its own workers; under torchrun leave it out (torchrun's --nproc-per-node sets them)")
        if args.train == "-":
            raise ConfigError("--nproc N reads the training data once per worker; give a file or directory, not - (stdin)")
        from ipinsights.distributed import launch

        return launch(args.nproc, _worker_argv(args))

    from ipinsights.distributed import from_environment
    from ipinsights.estimator import IPInsights

    use_threads(threads)
    started = time.perf_counter()
    data_parallel = from_environment(args.device)  # a worker of torchrun, or None
    finished = False
    try:
        train = _read_input(args, args.train)
        validation = _read_input(args, args.validation) if args.validation is not None else None
        main = data_parallel is None or data_parallel.is_main
        if auto_names:
            from ipinsights.autosize import auto_size

            hp, choices = auto_size(len(train), train.report.num_distinct_entities, values, names=auto_names)
            if main:
                chosen = "; ".join(str(c) for c in choices)
                print(f"ipinsights train: {'--auto-size' if args.auto_size else 'auto'} chose {chosen}", file=sys.stderr)
        elif args.auto_size and main:
            print("ipinsights train: --auto-size chose nothing (every size was given)", file=sys.stderr)
        model = IPInsights(
            hp, seed=args.seed, device=args.device, ip_encoder=args.ip_encoder, history_score=not args.reference
        )
        if main:
            for warning in hp.warnings_for(len(train), train.report.num_distinct_entities):
                print(f"ipinsights train: warning: {warning}", file=sys.stderr)
        model.fit(train, validation=validation, max_bad_fraction=args.max_bad_fraction)
        finished = True
    finally:
        if data_parallel is not None:
            data_parallel.close(finished=finished)
    if data_parallel is not None and not data_parallel.is_main:
        return 0  # rank 0 writes the model and reports
    out = model.save(args.model_dir)
    summary = ", ".join(f"{k}={v:.6g}" for k, v in model.metrics_.items())
    report = model.meta_["training_data"]
    workers = f" by {data_parallel.world_size} workers" if data_parallel is not None else ""
    print(
        f"ipinsights: trained on {report['rows']} rows ({report['bad_rows']} bad rows skipped, "
        f"{report['distinct_entities']} entities){workers} in {time.perf_counter() - started:.1f} s; {summary}; "
        f"model written to {out}",
        file=sys.stderr,
    )
    return 0


def _worker_argv(args: argparse.Namespace) -> list[str]:
    """The command line of each ``--nproc`` worker: this one's, ``--nproc`` left out."""
    parser = argparse.ArgumentParser(prog="ipinsights train")
    _add_options(parser)
    return ["train", *command_line(parser, args, leave_out={"nproc"})]


def _hyperparameter_table() -> str:
    lines = ["hyperparameters (set with --hp name=value or --hyperparameters file.json):"]
    for row in HyperParameters.describe():
        high = "" if row["high"] is None else f"{row['high']:g}"
        rule = f"{row['kind']} {row['low']:g}..{high}" if high else f"{row['kind']} >= {row['low']:g}"
        default = "required" if row["required"] else f"default {row['default']:g}"
        lines.append(f"  {row['name']:<33} {rule:<22} {default:<16} {row['help']}")
    return "\n".join(lines)


def _parse_hp(items: Sequence[str]) -> dict[str, str]:
    values = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--hp expects name=value, got {item!r} (e.g. --hp vector_dim=128)")
        name, value = item.split("=", 1)
        values[name.strip()] = value.strip()
    return values


def _hyperparameter_values(path: str | None, overrides: Sequence[str]) -> dict[str, object]:
    """The name-to-value map of ``--hyperparameters`` and ``--hp``, platform keys dropped with a note."""
    values: dict[str, object] = {}
    if path:
        where = f"--hyperparameters {path}"
        try:
            loaded = json.loads(Path(path).read_bytes())
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read ({exc.strerror})") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{where}: not UTF-8 text; expected a JSON object of name: value") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: not valid JSON ({exc})") from None
        except RecursionError:
            raise ConfigError(f"{where}: nested too deeply; expected a flat JSON object of name: value") from None
        if not isinstance(loaded, dict):
            raise ConfigError(
                f"{where}: expected a JSON object of name: value (e.g. {{\"vector_dim\": \"128\"}}), "
                f"got a JSON {_json_kind(loaded)}"
            )
        values.update(loaded)
    values.update(_parse_hp(overrides))
    ignored = platform_keys(values)
    if ignored:
        print(
            f"ipinsights train: ignoring {', '.join(ignored)} (added by SageMaker or its SDK; "
            "the reference's container ignores them too)",
            file=sys.stderr,
        )
    return {k: v for k, v in values.items() if k not in ignored}


def _json_kind(value: object) -> str:
    kinds = {list: "list", str: "string", bool: "boolean", int: "number", float: "number", type(None): "null"}
    return kinds.get(type(value), type(value).__name__)


def _read_input(args: argparse.Namespace, source: str) -> Pairs:
    """The pairs of ``source`` read in ``--format``: read here, not in fit, so train can check them first."""
    from ipinsights.readers import read_log

    return read_log(source, args.format, entity_field=args.entity_field, ip_field=args.ip_field, max_bad_fraction=args.max_bad_fraction)


def _size_placeholders(values: dict[str, object], names: frozenset[str]) -> dict[str, object]:
    """``values`` with valid stand-ins for the sizes to be chosen from the data, to check the rest early."""
    return {**dict.fromkeys(names, 128), **values}
