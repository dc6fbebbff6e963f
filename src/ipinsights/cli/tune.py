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
The options are here; what each action does is :func:`ipinsights.tune._cli.run_tune`.
"""

from __future__ import annotations

import argparse

from ipinsights.cli._common import HelpFormatter
from ipinsights.tune._types import LOG_FORMATS, TrainingJobStatus


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``ipinsights tune`` and its actions."""
    from ipinsights.tune._cli import run_tune

    p = subparsers.add_parser(
        "tune",
        help="automatic model tuning (SageMaker tuning-job semantics)",
        description="Run a hyperparameter tuning job described by a JSON or YAML file with the fields of "
        "SageMaker's CreateHyperParameterTuningJob (see docs/tuning.md). Running the same command again "
        "resumes an interrupted job. Actions: worker (join a job from another process or machine), "
        "describe, list, stop, analytics.",
        formatter_class=HelpFormatter,
    )
    p.add_argument("--config", default=None, metavar="JOB.yaml", help="the job file (.json, .yaml or .yml)")
    p.add_argument(
        "--name",
        default=None,
        help="HyperParameterTuningJobName, overriding the file's (default: the file's, else its stem)",
    )
    _locate(p)
    _data(p)
    _input_format(p)
    actions = p.add_subparsers(dest="tune_command", metavar="ACTION")

    w = actions.add_parser(
        "worker", help="join a job and run its trials until it ends", formatter_class=HelpFormatter
    )
    w.add_argument("--job", required=True, metavar="NAME", help="the job's name (or folder)")
    _locate(w)
    _data(w)

    d = actions.add_parser(
        "describe", help="DescribeHyperParameterTuningJob as JSON", formatter_class=HelpFormatter
    )
    d.add_argument("job", metavar="NAME", help="the job's name (or folder)")
    _locate(d)

    ls = actions.add_parser(
        "list", help="ListTrainingJobsForHyperParameterTuningJob as JSON", formatter_class=HelpFormatter
    )
    ls.add_argument("job", metavar="NAME", help="the job's name (or folder)")
    ls.add_argument(
        "--sort-by",
        default="Name",
        choices=("Name", "CreationTime", "Status", "FinalObjectiveMetricValue"),
        help="the field the training jobs are sorted by",
    )
    ls.add_argument(
        "--sort-order", default="Ascending", choices=("Ascending", "Descending"), help="the sort direction"
    )
    ls.add_argument(
        "--status",
        nargs="+",
        default=None,
        choices=[str(s) for s in TrainingJobStatus],
        help="only training jobs with these statuses",
    )
    ls.add_argument(
        "--max-results", type=int, default=None, metavar="N", help="list at most N training jobs (default: all)"
    )
    _locate(ls)

    s = actions.add_parser(
        "stop",
        help="StopHyperParameterTuningJob: stop running trials, start no more",
        formatter_class=HelpFormatter,
    )
    s.add_argument("job", metavar="NAME", help="the job's name (or folder)")
    _locate(s)

    a = actions.add_parser("analytics", help="the analytics table as CSV", formatter_class=HelpFormatter)
    a.add_argument("job", metavar="NAME", help="the job's name (or folder)")
    a.add_argument("--output", default="-", metavar="FILE.csv", help="where to write (- for stdout)")
    _locate(a)
    p.set_defaults(run=run_tune)


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
    p.add_argument(
        "--format",
        default=None,
        choices=LOG_FORMATS,
        help="how the channels are read, as train's --format, overriding the job file's InputFormat "
        "(default: the file's, else csv)",
    )
    p.add_argument(
        "--entity-field", default=None, metavar="NAME", help="the entity's field for jsonl, csv-header, parquet, overriding the job file's EntityField "
        "(default: the file's, else entity)"
    )
    p.add_argument(
        "--ip-field",
        default=None,
        metavar="NAME",
        help="the IP's field for jsonl, csv-header, parquet (combined: x-forwarded-for), overriding the job "
        "file's IpField (default: the file's, else ip)",
    )
