"""The ``ipinsights`` command line: train, predict, serve, generate, evaluate, demo, tune.

Errors a user can cause are printed as one line, ``ipinsights: error: ...``, with exit status 2;
a traceback means a bug.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ipinsights.config import HyperParameters, platform_keys
from ipinsights.errors import ConfigError, DataError, IPInsightsError
from ipinsights.threads import THREADS_HELP, choose_threads, use_threads

if TYPE_CHECKING:
    from ipinsights.data import Pairs
    from ipinsights.inference import ParsedRequest

__all__ = ["build_parser", "main"]


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows defaults and keeps the epilog's table layout."""


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


def _load_hyperparameters(path: str | None, overrides: Sequence[str]) -> HyperParameters:
    return HyperParameters.from_mapping(_hyperparameter_values(path, overrides))


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


# -- train ------------------------------------------------------------------------------------


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a model on entity,ip CSV or a log (--format)",
        description="Train IP Insights on logins (headerless entity,ip CSV, or a log in --format) and write a model directory. "
        "Metric lines in SageMaker's format go to stdout.",
        epilog=_hyperparameter_table(),
        formatter_class=_Formatter,
    )
    p.add_argument("--train", required=True, help="training channel: a CSV file, .gz file, directory of files, or - for stdin")
    p.add_argument("--validation", default=None, help="validation channel: enables the validation metrics each epoch (validation:discriminator_auc, the reference's; other_users_auc, nearby_auc and their mean with it, detection_auc: docs/design.md) and the combined 'score' fitted on it")
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
    _add_format_arguments(p)
    p.set_defaults(run=_run_train)


def _add_format_arguments(p: argparse.ArgumentParser) -> None:
    """``--format`` and its field names, shared by train, predict and evaluate."""
    from ipinsights.readers import FORMAT_HELP, FORMATS

    p.add_argument("--format", default="csv", choices=FORMATS, help=FORMAT_HELP)
    p.add_argument("--entity-field", default=None, metavar="NAME", help="the entity's field for jsonl, csv-header and parquet (default entity; dotted for nested JSON)")
    p.add_argument("--ip-field", default=None, metavar="NAME", help="the IP's field for jsonl, csv-header and parquet (default ip); for combined, x-forwarded-for takes the first address of the quoted field after the user agent")


def _read_input(args: argparse.Namespace, source: str) -> Pairs:
    """The pairs of ``source`` read in ``--format``: read here, not in fit, so train can check them first."""
    from ipinsights.readers import read_log

    return read_log(source, args.format, entity_field=args.entity_field, ip_field=args.ip_field, max_bad_fraction=args.max_bad_fraction)


def _size_placeholders(values: dict[str, object], names: frozenset[str]) -> dict[str, object]:
    """``values`` with valid stand-ins for the sizes to be chosen from the data, to check the rest early."""
    return {**dict.fromkeys(names, 128), **values}


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

        argv = ["train", "--train", args.train, "--model-dir", args.model_dir, "--seed", str(args.seed), "--device", args.device,
                "--max-bad-fraction", repr(args.max_bad_fraction), "--ip-encoder", args.ip_encoder, "--threads", args.threads]
        argv += ["--validation", args.validation] if args.validation is not None else []
        argv += ["--hyperparameters", args.hyperparameters] if args.hyperparameters else []
        argv += ["--reference"] if args.reference else []
        argv += ["--auto-size"] if args.auto_size else []
        argv += ["--format", args.format]
        argv += ["--entity-field", args.entity_field] if args.entity_field else []
        argv += ["--ip-field", args.ip_field] if args.ip_field else []
        for item in args.hp:
            argv += ["--hp", item]
        return launch(args.nproc, argv)

    from ipinsights.distributed import from_environment
    from ipinsights.estimator import IPInsights

    use_threads(threads)
    started = time.perf_counter()
    data_parallel = from_environment(args.device)  # a worker of torchrun, or None
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
    finally:
        if data_parallel is not None:
            data_parallel.close()
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


# -- predict ----------------------------------------------------------------------------------


def _add_predict(sub: argparse._SubParsersAction) -> None:
    from ipinsights.inference import ACCEPT_TYPES, CONTENT_TYPES

    p = sub.add_parser(
        "predict",
        help="score entity,ip pairs from a file (batch transform)",
        description="Score every input row with a trained model, in input order. A bad row gives an "
        "error record (with its row number and reason) and the other rows are still scored. CSV and "
        "JSON Lines input stream through in chunks (memory stays flat; .gz in and out); the output "
        "file appears, whole, only when the run succeeds.",
        formatter_class=_Formatter,
    )
    p.add_argument("--model-dir", required=True, help="a model directory written by ipinsights train")
    p.add_argument("--input", required=True, help="input file (.gz read by its magic bytes), or - for stdin")
    p.add_argument("--output", default="-", help="output file (a name ending .gz is gzip-compressed), or - for stdout")
    p.add_argument("--content-type", default="text/csv", choices=CONTENT_TYPES, help="input format")
    p.add_argument("--accept", default="application/jsonlines", choices=ACCEPT_TYPES, help="output format")
    p.add_argument("--verbose", action="store_true", help="add entity_embedding and ip_embedding to each prediction")
    p.add_argument("--with-input", action="store_true", help="carry each row's entity and ip into its prediction (JSON: \"entity\", \"ip\" first; CSV: two leading columns)")
    p.add_argument("--flag-below", type=float, default=None, metavar="VALUE", help="add flagged: true where the model's score (dot_product for a model without one) is below VALUE, e.g. a threshold from ipinsights evaluate's report")
    p.add_argument("--flag-fpr", type=float, default=None, metavar="FRACTION", help="like --flag-below, with the threshold that flags this fraction of the --reference file's rows (a false-positive budget, e.g. 0.01)")
    p.add_argument("--reference", default=None, metavar="PATH", help="normal logins (entity,ip CSV) that --flag-fpr measures the threshold on")
    p.add_argument("--only-flagged", action="store_true", help="write only flagged rows (and error records); needs --flag-below or --flag-fpr")
    p.add_argument("--threads", default="auto", metavar="N|auto", help="worker processes for an input file of 16 MB or more, else PyTorch threads; auto: every core when the machine is otherwise idle, else 1 (as train); OMP_NUM_THREADS, when set, wins over auto")
    p.add_argument("--device", default="cpu", help="auto, cpu or cuda")
    _add_format_arguments(p)
    p.set_defaults(run=_run_predict)


#: Input files at least this large are scored by worker processes when --threads allows several.
_WORKER_INPUT_BYTES = 16 << 20


def _run_predict(args: argparse.Namespace) -> int:
    from ipinsights.estimator import IPInsights
    from ipinsights.inference import MediaType
    from ipinsights.predict import (
        AtomicOutput,
        PredictOptions,
        predict_stream,
        reference_threshold,
        start_workers,
    )

    if args.output != "-":
        _check_output(Path(args.output))  # before the scoring work, not after
    if args.flag_below is not None and args.flag_fpr is not None:
        raise ConfigError("give --flag-below or --flag-fpr, not both")
    if args.flag_fpr is not None and args.reference is None:
        raise ConfigError("--flag-fpr needs --reference PATH, a file of normal logins to measure the budget on")
    if args.only_flagged and args.flag_below is None and args.flag_fpr is None:
        raise ConfigError("--only-flagged needs a threshold: --flag-below VALUE or --flag-fpr FRACTION --reference PATH")
    threads = choose_threads(args.threads)
    workers = 1
    if threads is not None and threads > 1 and args.format == "csv" and args.input != "-" and args.content_type != "application/json":
        try:
            workers = threads if os.path.getsize(args.input) >= _WORKER_INPUT_BYTES else 1
        except OSError:
            workers = 1
    # The workers start first, so that their start-up overlaps the main process's own load.
    pool = start_workers(args.model_dir, args.device, workers) if workers > 1 else None
    try:
        model: IPInsights | None = IPInsights.load(args.model_dir, device=args.device)  # fails fast on a bad model
        assert model is not None
        flag_below = args.flag_below
        if args.flag_fpr is not None:
            flag_below, field, num_reference = reference_threshold(model, args.reference, args.flag_fpr)
            print(f"ipinsights: flagging {field} < {flag_below:.6g} (flags {100 * args.flag_fpr:g} % of the {num_reference:,} reference rows at most)", file=sys.stderr)
        parsed = _log_request(args) if args.format != "csv" else None
        if pool is not None:
            model = None  # the workers score; its memory goes back
        use_threads(1 if workers > 1 else threads)
        options = PredictOptions(
            MediaType(args.accept, args.verbose),
            with_input=args.with_input,
            flag_below=flag_below,
            only_flagged=args.only_flagged,
            compress=args.output != "-" and args.output.endswith(".gz"),
        )
        output = AtomicOutput(args.output)
        try:
            summary = predict_stream(
                model,
                args.input,
                output,
                content_type=args.content_type,
                options=options,
                pool=pool,
                parsed=parsed,
                progress=sys.stderr.isatty(),
            )
            output.commit()
        except BaseException:
            output.discard()
            raise
    finally:
        if pool is not None:
            pool.terminate()
    if summary.num_bad:
        print(f"ipinsights: {summary.num_bad} of {summary.num_rows} rows could not be scored (first: {summary.first_error})", file=sys.stderr)
    if flag_below is not None:
        print(f"ipinsights: {summary.num_flagged} of {summary.num_rows} rows flagged", file=sys.stderr)
    return 0


def _log_request(args: argparse.Namespace) -> ParsedRequest:
    """The logins of a log in ``--format``, one prediction row each, in log order.

    A row's number is its line (or record) in its file; a login whose address or entity cannot
    be used gets an error record, as a bad CSV row does.
    """
    import numpy as np

    from ipinsights.data import describe_bad_entity, describe_bad_ip, hash_entities, parse_ips
    from ipinsights.inference import ParsedRequest
    from ipinsights.readers import read_log_columns

    if args.content_type != "text/csv":
        raise ConfigError(f"--content-type {args.content_type} is for --format csv input; leave it out with --format {args.format}")
    columns = read_log_columns(args.input, args.format, entity_field=args.entity_field, ip_field=args.ip_field)
    if not len(columns):
        raise DataError(f"--input {args.input}: no logins found in the {args.format} input")
    for bad in columns.bad_rows[:1]:
        print(f"ipinsights: {columns.num_bad_rows} {columns.unit}s could not be read (first: {bad.source} {columns.unit} {bad.line}: {bad.reason})", file=sys.stderr)
    entities = [e.strip() for e in columns.entities]
    ips = [ip.strip() for ip in columns.ips]
    ok, ip_hi, ip_lo = parse_ips(ips)
    errors = {i: describe_bad_ip(ips[i]) for i in np.flatnonzero(~ok).tolist()}
    for i, entity in enumerate(entities):
        reason = "empty entity" if not entity else describe_bad_entity(entity)
        if reason is not None and i not in errors:
            errors[i] = reason
    ok[list(errors)] = False
    lines = np.frombuffer(columns.lines, dtype=np.int64).copy()
    return ParsedRequest(hash_entities(entities), ip_hi, ip_lo, ok, lines, errors, entities, ips)


def _check_output(path: Path) -> None:
    if path.is_dir():
        raise ConfigError(f"--output {path}: is a directory; give a file name (e.g. {path / 'predictions.jsonl'})")
    if not path.parent.is_dir():
        raise ConfigError(f"--output {path}: the folder {path.parent} does not exist; create it first")


# -- generate ---------------------------------------------------------------------------------


def _add_generate(sub: argparse._SubParsersAction) -> None:
    from ipinsights.lab.datasets import add_generate_arguments, run_generate

    p = sub.add_parser(
        "generate",
        help="write realistic synthetic logins (entity,ip CSV split by time, attack sets)",
        description="Simulate web logins with the public IP Insights example's model over real IPv4 ranges. "
        "IP to ASN data by RouteViews (routeviews.org), the NRO (nro.net) and DB-IP (db-ip.com), CC BY 4.0, "
        "via ip-location-db.",
        formatter_class=_Formatter,
    )
    add_generate_arguments(p)
    p.set_defaults(run=run_generate)


# -- entry point ------------------------------------------------------------------------------

#: Subcommands contributed by other modules: (module, function adding the subparser).
_EXTRA_COMMANDS: list[tuple[str, str]] = [
    ("ipinsights.lab.evaluation", "add_evaluate_parser"),
    ("ipinsights.lab.demo", "add_demo_parser"),
    ("ipinsights.serve", "add_serve_parser"),
    ("ipinsights.tune._cli", "add_tune_arguments"),
]


def build_parser() -> argparse.ArgumentParser:
    from ipinsights._version import __version__

    parser = argparse.ArgumentParser(
        prog="ipinsights",
        description="Open, self-hosted IP Insights: learn which IP addresses each user or account "
        "normally uses, and score new (entity, IP) pairs.",
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"ipinsights {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    _add_train(sub)
    _add_predict(sub)
    _add_generate(sub)
    for module_name, function in _EXTRA_COMMANDS:
        module = __import__(module_name, fromlist=[function])
        add: Callable[[argparse._SubParsersAction], None] = getattr(module, function)
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 usage or input error, 130 interrupted)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except IPInsightsError as exc:
        print(f"ipinsights: error: {exc}", file=sys.stderr)
        return 2
    except FloatingPointError as exc:
        print(f"ipinsights: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ipinsights: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
