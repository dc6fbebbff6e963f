"""``ipinsights tune``: run, join, describe, list, stop a tuning job; export its analytics.

    ipinsights tune --config job.yaml [--name NAME] [--job-dir DIR] [--storage URL]
                    [--train PATH] [--validation PATH] [--max-parallel N]
    ipinsights tune worker --job NAME [--storage URL] [--job-dir DIR] [--train PATH] ...
    ipinsights tune describe NAME [--storage URL] [--job-dir DIR]
    ipinsights tune list NAME [--sort-by Name|CreationTime|Status|FinalObjectiveMetricValue]
                    [--sort-order Ascending|Descending] [--status STATUS ...]
    ipinsights tune stop NAME
    ipinsights tune analytics NAME [--output FILE.csv]

Running the same ``tune --config`` command again resumes a job that was interrupted or killed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ipinsights.errors import ConfigError, MissingExtraError
from ipinsights.tune._attributes import JobAttributes
from ipinsights.tune._types import JobStatus, TrainingJobStatus

if TYPE_CHECKING:  # pragma: no cover
    from ipinsights.tune._job import TuningJob

__all__ = ["add_tune_arguments", "run_tune"]

#: A stand-in trainer ``module:function`` for tests (see ``docs/tuning.md``).
TRAINER_ENV = "IPINSIGHTS_TUNE_TRAINER"


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    pass


def _locate(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--storage",
        default=None,
        metavar="URL",
        help="the job's storage, e.g. postgresql://user@host/db (default: the journal file in the job folder)",
    )
    p.add_argument(
        "--job-dir",
        default=None,
        metavar="DIR",
        help="the job folder (default: $IPINSIGHTS_TUNING_DIR/NAME or tuning-jobs/NAME)",
    )


def _data(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--train", default=None, metavar="PATH", help="train channel on this machine (overrides the job file)"
    )
    p.add_argument(
        "--validation",
        default=None,
        metavar="PATH",
        help="validation channel on this machine (overrides the job file)",
    )
    p.add_argument(
        "--max-parallel",
        type=int,
        default=None,
        metavar="N",
        help="trials this process runs at once (default: MaxParallelTrainingJobs)",
    )
    p.add_argument(
        "--no-progress", action="store_true", help="print one line per trial event instead of a live display"
    )
    p.add_argument("--no-plots", action="store_true", help="do not write the PNG plots at the end")


def _input_format(p: argparse.ArgumentParser) -> None:
    """``train``'s ``--format`` options, overriding the job file's ``InputFormat`` members."""
    from ipinsights.tune._types import LOG_FORMATS

    p.add_argument(
        "--format",
        default=None,
        choices=LOG_FORMATS,
        help="how the channels are read, as train's --format (overrides the job file's InputFormat; default csv)",
    )
    p.add_argument(
        "--entity-field", default=None, metavar="NAME", help="the entity's field for jsonl, csv-header, parquet"
    )
    p.add_argument(
        "--ip-field",
        default=None,
        metavar="NAME",
        help="the IP's field for jsonl, csv-header, parquet (combined: x-forwarded-for)",
    )


def add_tune_arguments(subparsers: argparse._SubParsersAction) -> None:
    """Add ``tune`` and its actions to the ``ipinsights`` command line."""
    p = subparsers.add_parser(
        "tune",
        help="automatic model tuning (SageMaker tuning-job semantics)",
        description="Run a hyperparameter tuning job described by a JSON or YAML file with the fields of "
        "SageMaker's CreateHyperParameterTuningJob (see docs/tuning.md). Running the same command again "
        "resumes an interrupted job. Actions: worker (join a job from another process or machine), "
        "describe, list, stop, analytics.",
        formatter_class=_Formatter,
    )
    p.add_argument("--config", default=None, metavar="JOB.yaml", help="the job file (.json, .yaml or .yml)")
    p.add_argument(
        "--name",
        default=None,
        help="HyperParameterTuningJobName (overrides the file; default: the file's, else its stem)",
    )
    _locate(p)
    _data(p)
    _input_format(p)
    actions = p.add_subparsers(dest="tune_command", metavar="ACTION")

    w = actions.add_parser(
        "worker", help="join a job and run its trials until it ends", formatter_class=_Formatter
    )
    w.add_argument("--job", required=True, metavar="NAME", help="the job's name (or folder)")
    _locate(w)
    _data(w)

    d = actions.add_parser(
        "describe", help="DescribeHyperParameterTuningJob as JSON", formatter_class=_Formatter
    )
    d.add_argument("job", metavar="NAME", help="the job's name (or folder)")
    _locate(d)

    ls = actions.add_parser(
        "list", help="ListTrainingJobsForHyperParameterTuningJob as JSON", formatter_class=_Formatter
    )
    ls.add_argument("job", metavar="NAME", help="the job's name (or folder)")
    ls.add_argument(
        "--sort-by", default="Name", choices=("Name", "CreationTime", "Status", "FinalObjectiveMetricValue")
    )
    ls.add_argument("--sort-order", default="Ascending", choices=("Ascending", "Descending"))
    ls.add_argument(
        "--status", nargs="+", default=None, choices=[str(s) for s in TrainingJobStatus], help="only training jobs with these statuses"
    )
    ls.add_argument("--max-results", type=int, default=None, metavar="N")
    _locate(ls)

    s = actions.add_parser(
        "stop",
        help="StopHyperParameterTuningJob: stop running trials, start no more",
        formatter_class=_Formatter,
    )
    s.add_argument("job", metavar="NAME", help="the job's name (or folder)")
    _locate(s)

    a = actions.add_parser("analytics", help="the analytics table as CSV", formatter_class=_Formatter)
    a.add_argument("job", metavar="NAME", help="the job's name (or folder)")
    a.add_argument("--output", default="-", metavar="FILE.csv", help="where to write (- for stdout)")
    _locate(a)
    p.set_defaults(run=run_tune)


def run_tune(args: argparse.Namespace) -> int:
    """Run ``ipinsights tune ...``; returns the exit status (errors raise ConfigError/DataError)."""
    MissingExtraError.check("ipinsights tune", "tune", "optuna", "yaml")
    import optuna

    from ipinsights.tune._job import TuningJob

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    command = getattr(args, "tune_command", None)
    job_dir = Path(args.job_dir) if getattr(args, "job_dir", None) else None
    if command is None:
        return _run(args, job_dir)
    if command == "worker":
        job = TuningJob.open(args.job, storage_url=args.storage, job_dir=job_dir)
        return _work(job, args)
    job = TuningJob.open(args.job, storage_url=args.storage, job_dir=job_dir)
    if command == "describe":
        from ipinsights.tune._report import describe_job

        _print_json(describe_job(job))
    elif command == "list":
        from ipinsights.tune._report import list_training_jobs

        _print_json(
            list_training_jobs(
                job,
                sort_by=args.sort_by,
                sort_order=args.sort_order,
                status=args.status,
                max_results=args.max_results,
            )
        )
    elif command == "stop":
        status = job.request_stop()
        print(
            json.dumps(
                {"HyperParameterTuningJobName": job.config.name, "HyperParameterTuningJobStatus": status}
            )
        )
    elif command == "analytics":
        from ipinsights.tune._report import write_analytics

        if args.output == "-":
            write_analytics(job, sys.stdout)
        else:
            with open(args.output, "w", newline="") as out:
                write_analytics(job, out)
    return 0


def _run(args: argparse.Namespace, job_dir: Path | None) -> int:
    from ipinsights.tune._job import TuningJob
    from ipinsights.tune._load import load_job_config

    if not args.config:
        raise ConfigError(
            "ipinsights tune needs --config JOB.yaml, or an action: worker, describe, list, stop, analytics "
            "(see ipinsights tune --help)"
        )
    given = {"InputFormat": args.format, "EntityField": args.entity_field, "IpField": args.ip_field}
    config = load_job_config(
        args.config,
        name=args.name,
        train=args.train,
        validation=args.validation,
        input_format={k: v for k, v in given.items() if v is not None},
    )
    if config.not_used:
        print(
            f"ipinsights tune: not used locally (SageMaker infrastructure and SDK bookkeeping, kept in the "
            f"job's record for describe): {', '.join(config.not_used)}",
            file=sys.stderr,
        )
    job = TuningJob.create_or_resume(config, job_dir=job_dir, storage_url=args.storage)
    status = job.status()
    if status.ended:
        print(
            f"ipinsights tune: job {config.name} is already {status}; see ipinsights tune describe {config.name}",
            file=sys.stderr,
        )
        return 0
    return _work(job, args)


def _work(job: TuningJob, args: argparse.Namespace) -> int:
    from ipinsights.tune._records import summarize
    from ipinsights.tune._report import Progress
    from ipinsights.tune._worker import run_job

    channels = dict(job.config.channels)
    for channel in ("train", "validation"):
        value = getattr(args, channel, None)
        if value:
            channels[channel] = str(Path(value).resolve())
    for channel, path in channels.items():
        if not Path(path).exists():
            raise ConfigError(
                f"the {channel} channel {path} does not exist on this machine; pass --{channel} PATH"
            )
    if args.max_parallel is not None and args.max_parallel < 1:
        raise ConfigError(f"--max-parallel must be at least 1, got {args.max_parallel}")
    progress = Progress(live=False if args.no_progress else None)
    status = run_job(
        job,
        max_parallel=args.max_parallel,
        channels=channels,
        trainer=os.environ.get(TRAINER_ENV) or None,
        progress=progress,
        plots=not args.no_plots,
    )
    summary = summarize(job.config, job.training_jobs())
    line = f"ipinsights tune: job {job.config.name} {status}"
    reason = JobAttributes(job.attrs()).status_reason
    if reason:
        line += f" ({reason})"
    counters = summary.status_counters
    line += f"; {summary.counted} training jobs counted ({counters['Completed']} completed, {counters['Stopped']} stopped, {counters['NonRetryableError']} failed, {counters['RetryableError']} retried)"
    if summary.best is not None:
        line += f"; best {summary.best.name} {job.config.objective.metric_name}={summary.best.value:.6g}, model {summary.best.model_dir}"
    line += f"; reports in {job.job_dir}"
    print(line, file=sys.stderr)
    return 1 if status is JobStatus.FAILED else 0


def _print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
