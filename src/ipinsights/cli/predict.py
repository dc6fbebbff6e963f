"""``ipinsights predict``: score every row of a file or stdin, in input order (batch transform).

The streaming, the worker processes and the atomic output are :mod:`ipinsights.predict`'s; here
the options are checked and a log in ``--format`` is read into rows.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ipinsights.cli._common import HelpFormatter, add_format_arguments
from ipinsights.errors import ConfigError, DataError
from ipinsights.threads import choose_threads, use_threads

if TYPE_CHECKING:
    from ipinsights.inference import ParsedRequest


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``ipinsights predict``."""
    from ipinsights.inference import ACCEPT_TYPES, CONTENT_TYPES

    p = subparsers.add_parser(
        "predict",
        help="score entity,ip pairs from a file (batch transform)",
        description="Score every input row with a trained model, in input order. A bad row gives an "
        "error record (with its row number and reason) and the other rows are still scored. CSV and "
        "JSON Lines input stream through in chunks (memory stays flat; .gz in and out); the output "
        "file appears, whole, only when the run succeeds. Exit status 1 when no row could be scored (the "
        "error records are still written: a wrong --content-type or a header line looks like this).",
        formatter_class=HelpFormatter,
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
    add_format_arguments(p)
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
    if summary.num_rows and summary.num_bad == summary.num_rows:
        print(f"ipinsights: predict: no row could be scored; is the input {args.content_type} (--content-type)?", file=sys.stderr)
        return 1
    return 0


def _log_request(args: argparse.Namespace) -> ParsedRequest:
    """The logins of a log in ``--format``, one prediction row each, in log order.

    A row's number is its line (or record) in its file; a login whose address or entity cannot
    be used gets an error record, as a bad CSV row does.
    """
    import numpy as np

    from ipinsights.addresses import parse_ips
    from ipinsights.data import describe_bad_entity, describe_bad_ip
    from ipinsights.entities import hash_entities
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
