"""What ``ipinsights tune`` and its actions do: run or resume a job, join it, describe, list, stop, export analytics.

The options are :mod:`ipinsights.cli.tune`'s; here each action becomes calls of the tuner's API
and its documents are printed (JSON to stdout, one summary line to stderr).
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
from ipinsights.tune._types import JobStatus

if TYPE_CHECKING:  # pragma: no cover
    from ipinsights.tune._job import TuningJob

__all__ = ["run_tune"]

#: A stand-in trainer ``module:function`` for tests (see ``docs/tuning.md``).
TRAINER_ENV = "IPINSIGHTS_TUNE_TRAINER"


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
