"""What a job reports, with the reference's names: describe, list, analytics, plots, progress.

- :func:`describe_job`: ``DescribeHyperParameterTuningJob`` (status, counters, best training
  job, consumed runtime, completion details), plus an ``IPInsights`` block with what only this
  implementation knows (job folder, storage, why it ended, epochs trained).
- :func:`list_training_jobs`: ``ListTrainingJobsForHyperParameterTuningJob`` summaries.

Both fit botocore's output shapes, so SageMaker's clients read them: every required member is
present (ARNs are local ones in the service's format, :func:`job_arn`; the training job
definition's ``RoleArn``, ``AlgorithmSpecification``, ``OutputDataConfig`` and
``StoppingCondition`` are the request's, or neutral local values), absent members are left out
rather than ``null``, timestamps are UTC with an offset, and what only this implementation knows
is under one member, ``IPInsights``, in the job and in each training job summary.
- :func:`analytics_rows` / :func:`write_analytics`: the table of SageMaker's
  ``HyperparameterTuningJobAnalytics`` (a column per tuned hyperparameter, then
  ``TrainingJobName, TrainingJobStatus, FinalObjectiveValue, TrainingStartTime, TrainingEndTime,
  TrainingElapsedTimeSeconds``).
- :func:`write_plots`: ``optimization_history.png``, ``param_importances.png`` and
  ``learning_curves.png`` in ``<job_dir>/plots``.
- :class:`Progress`: a live display while the job runs (rich, when stderr is a terminal),
  otherwise one line per trial event.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import json
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ipinsights.errors import ConfigError
from ipinsights.tune._attributes import JobAttributes, TrialAttributes
from ipinsights.tune._records import TrainingJob, summarize
from ipinsights.tune._storage import redact_url, write_private
from ipinsights.tune._types import CategoricalRange, JobStatus, TrainingJobStatus, TuningJobConfig

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console, RenderableType
    from rich.live import Live

    from ipinsights.tune._job import TuningJob  # which imports this module's callers, not this module

__all__ = [
    "ANALYTICS_COLUMNS",
    "SORT_KEYS",
    "Progress",
    "analytics_rows",
    "describe_job",
    "list_training_jobs",
    "write_analytics",
    "write_outputs",
    "write_plots",
]

ANALYTICS_COLUMNS = (
    "TrainingJobName",
    "TrainingJobStatus",
    "FinalObjectiveValue",
    "TrainingStartTime",
    "TrainingEndTime",
    "TrainingElapsedTimeSeconds",
)
SORT_KEYS = ("Name", "CreationTime", "Status", "FinalObjectiveMetricValue")
STATUSES = tuple(str(s) for s in TrainingJobStatus)


#: Local ARNs: the service's format, region ``local`` and account ``000000000000``.
ARN_PREFIX = "arn:aws:sagemaker:local:000000000000"
LOCAL_ROLE_ARN = "arn:aws:iam::000000000000:role/ipinsights-local"
LOCAL_IMAGE = "ipinsights:local"
#: What the service defaults to, and a valid placeholder where the request names no instance.
DEFAULT_MAX_RUNTIME_SECONDS = 86_400
PLACEHOLDER_INSTANCE_TYPE = "ml.m5.large"


def job_arn(name: str) -> str:
    """The local ``HyperParameterTuningJobArn`` (the service lower-cases names in ARNs)."""
    return f"{ARN_PREFIX}:hyper-parameter-tuning-job/{name.lower()}"


def training_job_arn(name: str) -> str:
    return f"{ARN_PREFIX}:training-job/{name.lower()}"


def _iso(value: dt.datetime | str | None) -> str | None:
    """A timestamp in UTC with its offset; naive values (Optuna's, older records) are local time."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.astimezone()  # a naive datetime is taken as local time
    return value.astimezone(dt.UTC).isoformat()


def _without_nulls(value: Any) -> Any:
    """The service leaves an absent member out; it never sends ``null``."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _text(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def training_job_summary(job: TuningJob, tj: TrainingJob) -> dict[str, Any]:
    """One ``HyperParameterTrainingJobSummary``."""
    objective = job.config.objective
    out: dict[str, Any] = {
        "TrainingJobName": tj.name,
        "TrainingJobArn": training_job_arn(tj.name),
        "TuningJobName": job.config.name,
        "CreationTime": _iso(tj.creation_time),
        "TrainingStartTime": _iso(tj.start_time),
        "TrainingEndTime": _iso(tj.end_time) if tj.status is not TrainingJobStatus.IN_PROGRESS else None,
        "TrainingJobStatus": tj.status,
        "TunedHyperParameters": {k: _text(v) for k, v in tj.tuned.items()},
        "ObjectiveStatus": tj.objective_status,
    }
    if tj.value is not None:
        out["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "Type": str(objective.type),
            "MetricName": objective.metric_name,
            "Value": tj.value,
        }
    if tj.status is TrainingJobStatus.FAILED:
        out["FailureReason"] = f"{tj.failure_kind}: {tj.failure_reason}"
    out["IPInsights"] = {
        "ModelDir": tj.model_dir,
        "TrainingLog": tj.log,
        "EpochsCompleted": tj.epochs,
        "Attempt": tj.attempt,
        "StoppedBy": tj.stopped_by,
    }
    return _without_nulls(out)


def training_job_definition(job: TuningJob, document: dict[str, Any]) -> dict[str, Any]:
    """``HyperParameterTrainingJobDefinition`` as the service describes it.

    The request's members as given; channels as a list; and what the service adds or defaults
    and the SageMaker Python SDK's ``HyperparameterTuner.attach()`` reads (``KeyError``
    otherwise): ``StaticHyperParameters._tuning_objective_metric``,
    ``AlgorithmSpecification.MetricDefinitions`` (a built-in algorithm's), ``ResourceConfig``
    and ``StoppingCondition.MaxRuntimeInSeconds`` (the service's default, one day). A job file
    without ``RoleArn``, ``AlgorithmSpecification`` or ``OutputDataConfig`` gets neutral local
    values (docs/tuning.md, Reports).
    """
    from ipinsights.metrics import METRIC_REGEXES

    config = job.config
    local = document["TrainingJobDefinition"]
    given = copy.deepcopy(dict(config.sagemaker_fields.get("TrainingJobDefinition") or {}))
    given.pop("TuningObjective", None)
    given.pop("HyperParameterRanges", None)
    channels = given.pop("InputDataConfig", None) or [
        {
            "ChannelName": name,
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": Path(path).resolve().as_uri()}
            },
        }
        for name, path in config.channels.items()
    ]
    static = {
        **local["StaticHyperParameters"],
        **given.pop("StaticHyperParameters", {}),
        "_tuning_objective_metric": config.objective.metric_name,
    }
    algorithm = given.pop("AlgorithmSpecification", None) or {
        "TrainingImage": LOCAL_IMAGE,
        "TrainingInputMode": "File",
    }
    algorithm.setdefault(
        "MetricDefinitions", [{"Name": name, "Regex": regex} for name, regex in METRIC_REGEXES.items()]
    )
    stopping = given.pop("StoppingCondition", None) or {}
    stopping.setdefault(
        "MaxRuntimeInSeconds", config.resource_limits.max_runtime_in_seconds or DEFAULT_MAX_RUNTIME_SECONDS
    )
    tuning_resources = given.get("HyperParameterTuningResourceConfig") or {}
    resources = given.pop("ResourceConfig", None) or {
        "InstanceType": tuning_resources.get("InstanceType", PLACEHOLDER_INSTANCE_TYPE),
        "InstanceCount": tuning_resources.get("InstanceCount", 1),
        "VolumeSizeInGB": tuning_resources.get("VolumeSizeInGB", 1),
    }
    out: dict[str, Any] = {
        "StaticHyperParameters": static,
        "AlgorithmSpecification": algorithm,
        "RoleArn": LOCAL_ROLE_ARN,
        "InputDataConfig": channels,
        "OutputDataConfig": {"S3OutputPath": Path(job.job_dir).resolve().as_uri()},
        "ResourceConfig": resources,
        "StoppingCondition": stopping,
        "RetryStrategy": local["RetryStrategy"],
    }
    out.update(given)
    return out


def describe_job(job: TuningJob) -> dict[str, Any]:
    """``DescribeHyperParameterTuningJob`` for ``job`` (a :class:`~ipinsights.tune.TuningJob`)."""
    config = job.config
    attrs = JobAttributes(job.attrs())
    trials = job.trials()
    jobs = job.training_jobs(trials)
    summary = summarize(config, jobs)
    document = config.to_dict()
    status = job.status()
    ended = [j.end_time for j in jobs if j.end_time is not None]
    local = document["TrainingJobDefinition"]
    out: dict[str, Any] = {
        "HyperParameterTuningJobName": config.name,
        "HyperParameterTuningJobArn": job_arn(config.name),
        "HyperParameterTuningJobConfig": document["HyperParameterTuningJobConfig"],
        "TrainingJobDefinition": training_job_definition(job, document),
        "HyperParameterTuningJobStatus": status,
        "CreationTime": _iso(attrs.created),
        "HyperParameterTuningEndTime": _iso(attrs.ended),
        "LastModifiedTime": _iso(max(ended)) if ended else _iso(attrs.created),
        "TrainingJobStatusCounters": summary.status_counters,
        "ObjectiveStatusCounters": summary.objective_counters,
    }
    if "WarmStartConfig" in document:
        out["WarmStartConfig"] = document["WarmStartConfig"]
    if "Autotune" in config.sagemaker_fields:
        out["Autotune"] = config.sagemaker_fields["Autotune"]
    if summary.best is not None:
        out["BestTrainingJob"] = training_job_summary(job, summary.best)
    out["ConsumedResources"] = {"RuntimeInSeconds": round(job.consumed_seconds())}
    out["TuningJobCompletionDetails"] = {
        "NumberOfTrainingJobsObjectiveNotImproving": attrs.not_improving,
        "ConvergenceDetectedTime": _iso(attrs.convergence_time),
    }
    if status is JobStatus.FAILED:
        out["FailureReason"] = attrs.status_reason
    workers = job.workers()
    out["IPInsights"] = {
        "JobDir": str(Path(job.job_dir).resolve()),
        "Storage": redact_url(job.storage_url),
        "StatusReason": attrs.status_reason,
        "TrainingJobsCounted": summary.counted,
        "EpochsTrained": summary.epochs,
        "WarmStartTrainingJobs": attrs.warm_start_trials,
        "RejectedDraws": sum(1 for t in trials if TrialAttributes(t.user_attrs).rejected),
        "ActiveWorkers": sum(1 for w in workers.values() if w.alive()),
        "ScalingTypes": _resolved_scaling(config),
        "TrainingJobDefinition": {
            "Channels": dict(config.channels),
            "Seed": local["Seed"],
            "Device": local["Device"],
            "MaxBadFraction": local["MaxBadFraction"],
            "InputFormat": config.input_format.to_dict(),
        },
    }
    return _without_nulls(out)


def _resolved_scaling(config: TuningJobConfig) -> dict[str, str]:
    from ipinsights.tune._space import resolve_scaling

    return {r.name: str(resolve_scaling(r)) for r in config.ranges if not isinstance(r, CategoricalRange)}


def list_training_jobs(
    job: TuningJob,
    *,
    sort_by: str = "Name",
    sort_order: str = "Ascending",
    status: Sequence[str] | None = None,
    max_results: int | None = None,
) -> dict[str, Any]:
    """``ListTrainingJobsForHyperParameterTuningJob``: ``{"TrainingJobSummaries": [...]}``.

    Raises:
        ConfigError: An unknown sort key, order or status.
    """
    if sort_by not in SORT_KEYS:
        raise ConfigError(f"--sort-by must be one of {', '.join(SORT_KEYS)}, got {sort_by!r}")
    if sort_order not in ("Ascending", "Descending"):
        raise ConfigError(f"--sort-order must be Ascending or Descending, got {sort_order!r}")
    for s in status or ():
        if s not in STATUSES:
            raise ConfigError(f"--status must be one of {', '.join(STATUSES)}, got {s!r}")
    jobs = [j for j in job.training_jobs() if not status or j.status in status]
    descending = sort_order == "Descending"
    if sort_by == "FinalObjectiveMetricValue":
        valued = sorted(
            ((j.value, j) for j in jobs if j.value is not None), key=lambda pair: pair[0], reverse=descending
        )
        jobs = [j for _, j in valued] + [j for j in jobs if j.value is None]
    else:
        key = {
            "Name": lambda j: j.name,
            "CreationTime": lambda j: j.creation_time or dt.datetime.min,
            "Status": lambda j: j.status,
        }[sort_by]
        jobs = sorted(jobs, key=key, reverse=descending)
    if max_results is not None:
        jobs = jobs[:max_results]
    return {"TrainingJobSummaries": [training_job_summary(job, j) for j in jobs]}


def analytics_rows(job: TuningJob) -> list[dict[str, Any]]:
    """One row per training job, the columns of SageMaker's tuning analytics."""
    names = job.config.tuned_names
    rows = []
    for j in job.training_jobs():
        row: dict[str, Any] = {n: j.tuned.get(n) for n in names}
        elapsed = j.elapsed_seconds
        row.update(
            {
                "TrainingJobName": j.name,
                "TrainingJobStatus": j.status,
                "FinalObjectiveValue": j.value,
                "TrainingStartTime": _iso(j.start_time),
                "TrainingEndTime": _iso(j.end_time) if j.status is not TrainingJobStatus.IN_PROGRESS else None,
                "TrainingElapsedTimeSeconds": round(elapsed, 3) if elapsed is not None else None,
            }
        )
        rows.append(row)
    return rows


def write_analytics(job: TuningJob, out: TextIO) -> None:
    columns = [*job.config.tuned_names, *ANALYTICS_COLUMNS]
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in analytics_rows(job):
        writer.writerow({k: "" if v is None else v for k, v in row.items()})


def write_outputs(job: TuningJob, *, plots: bool = True) -> list[Path]:
    """Write ``analytics.csv``, ``describe.json`` and the plots into the job folder."""
    folder = Path(job.job_dir)
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    write_analytics(job, buffer)
    written = [folder / "analytics.csv", folder / "describe.json"]
    written[0].write_text(buffer.getvalue())
    write_private(written[1], json.dumps(describe_job(job), indent=2) + "\n")
    if plots:
        written += write_plots(job, folder / "plots")
    return written


# -- plots ------------------------------------------------------------------------------------


def write_plots(job: TuningJob, folder: Path) -> list[Path]:
    """Optimisation history, parameter importances and learning curves as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    config = job.config
    jobs = job.training_jobs()
    metric = config.objective.metric_name
    maximize = config.objective.maximize
    written = []

    done = sorted(
        (j for j in jobs if j.value is not None), key=lambda j: (j.end_time or dt.datetime.max, j.number)
    )
    fig, ax = plt.subplots(figsize=(7, 4.5))
    values = [j.value for j in done if j.value is not None]  # all of done
    completed = [j.status is TrainingJobStatus.COMPLETED for j in done]
    best: list[float] = []
    for value, is_completed in zip(values, completed, strict=True):
        if is_completed:
            best.append(value if not best else (max if maximize else min)(best[-1], value))
        else:
            best.append(best[-1] if best else float("nan"))
    xs = list(range(1, len(done) + 1))
    ax.scatter(
        [x for x, c in zip(xs, completed, strict=True) if c],
        [v for v, c in zip(values, completed, strict=True) if c],
        s=18,
        label="completed",
    )
    ax.scatter(
        [x for x, c in zip(xs, completed, strict=True) if not c],
        [v for v, c in zip(values, completed, strict=True) if not c],
        s=18,
        marker="x",
        color="grey",
        label="stopped early",
    )
    ax.step(xs, best, where="post", color="C3", label="best so far")
    ax.set(
        xlabel="training job (in finishing order)",
        ylabel=metric,
        title=f"{config.name}: optimisation history",
    )
    ax.legend(loc="best")
    fig.tight_layout()
    written.append(folder / "optimization_history.png")
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)

    importances = _importances(job)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    if importances:
        names = list(importances)[::-1]
        ax.barh(names, [importances[n] for n in names], color="C0")
        ax.set(
            xlabel="importance (fANOVA, share of variance)", title=f"{config.name}: hyperparameter importance"
        )
    else:
        ax.text(
            0.5, 0.5, "not enough completed training jobs to estimate importances", ha="center", va="center"
        )
        ax.set_axis_off()
    fig.tight_layout()
    written.append(folder / "param_importances.png")
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for j in jobs:
        if not j.curve:
            continue
        steps = sorted(j.curve)
        style = {TrainingJobStatus.COMPLETED: "-", TrainingJobStatus.STOPPED: ":"}.get(j.status, "--")
        ax.plot(steps, [j.curve[s] for s in steps], style, linewidth=1, alpha=0.8)
    ax.set(xlabel="epoch", ylabel=metric, title=f"{config.name}: learning curves (dotted: stopped early)")
    fig.tight_layout()
    written.append(folder / "learning_curves.png")
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)
    return written


def _importances(job: TuningJob) -> dict[str, float]:
    import optuna
    from optuna.trial import TrialState

    from ipinsights.tune._records import is_training_job

    trials = [t for t in job.trials() if t.state is TrialState.COMPLETE and is_training_job(t)]
    if len(trials) < 3:
        return {}
    varying = [p for p in trials[0].distributions if len({repr(t.params.get(p)) for t in trials}) > 1]
    if not varying:
        return {}
    study = optuna.create_study(direction=job.study.direction)
    study.add_trials(trials)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return dict(optuna.importance.get_param_importances(study, params=varying))
    except (ValueError, RuntimeError):
        return {}


# -- progress ---------------------------------------------------------------------------------


class Progress:
    """Shows a running job: a live table on a terminal, otherwise one line per event.

    Args:
        stream: Where to write (default stderr).
        live: Force the live display on or off (default: when ``stream`` is a terminal).
    """

    def __init__(self, stream: TextIO | None = None, *, live: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.live_enabled = self.stream.isatty() if live is None else live
        self.started = time.time()
        self._live: Live | None = None
        self._console: Console | None = None
        self._last = 0.0

    def start(self, job: TuningJob) -> None:
        self.started = time.time()
        if self.live_enabled:
            from rich.console import Console
            from rich.live import Live

            self._console = Console(file=self.stream)
            self._live = Live(console=self._console, refresh_per_second=4, transient=False)
            self._live.start()

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def event(self, line: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        if self._console is not None:
            self._console.print(f"[{stamp}] {line}", markup=False, highlight=False)
        else:
            print(f"[{stamp}] {line}", file=self.stream, flush=True)

    def tick(self, job: TuningJob, jobs: list[TrainingJob]) -> None:
        now = time.time()
        if self._live is None or now - self._last < 0.25:
            return
        self._last = now
        self._live.update(self.render(job, jobs))

    def render(self, job: TuningJob, jobs: list[TrainingJob]) -> RenderableType:
        from rich.table import Table

        config = job.config
        summary = summarize(config, jobs)
        budget = config.resource_limits.max_number_of_training_jobs
        counters = summary.status_counters
        elapsed = time.time() - self.started
        durations = [j.elapsed_seconds for j in jobs if j.final and j.elapsed_seconds]
        eta = "-"
        if durations and summary.counted < budget:
            per = sum(durations) / len(durations)  # type: ignore[arg-type]
            parallel = config.resource_limits.max_parallel_training_jobs
            eta = _clock((budget - summary.counted) * per / parallel)
        table = Table(
            title=f"tuning job {config.name} ({config.strategy}, {job.status()})", show_header=False
        )
        table.add_column(style="bold")
        table.add_column()
        table.add_row(
            "training jobs",
            f"{summary.counted}/{budget} done: {counters['Completed']} completed, {counters['Stopped']} stopped, "
            f"{counters['NonRetryableError']} failed; {counters['InProgress']} running; "
            f"{counters['RetryableError']} retried",
        )
        if summary.best is not None:
            hps = ", ".join(
                f"{k}={_text(v) if not isinstance(v, float) else f'{v:.4g}'}"
                for k, v in summary.best.tuned.items()
            )
            table.add_row(
                "best", f"{config.objective.metric_name} = {summary.best.value:.6g} ({summary.best.name})"
            )
            table.add_row("", hps)
        table.add_row("elapsed", _clock(elapsed))
        table.add_row("time left (estimate)", eta)
        return table


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
