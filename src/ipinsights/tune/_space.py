"""The search space: the reference's ranges and scaling types as Optuna distributions.

Scaling (``ScalingType``):

- ``Linear``: uniform over ``[MinValue, MaxValue]``.
- ``Logarithmic``: uniform in ``log(x)`` (Optuna's ``log=True``); needs ``MinValue > 0``.
- ``ReverseLogarithmic``: uniform in ``log(1 - x)``, dense near 1; continuous ranges within
  ``[0, 1)`` only. Optuna has no such scale, so the trial's parameter is ``1-NAME`` on a
  logarithmic scale and the hyperparameter is one minus it.
- ``Auto`` (the reference leaves the rule open; ours): ``Logarithmic`` when ``MinValue > 0`` and
  ``MaxValue / MinValue >= 10`` (a range spanning at least an order of magnitude), otherwise
  ``Linear``. ``Auto`` never picks ``ReverseLogarithmic``.

``R + S`` must be in ``[1, 500]`` for training, but the recommended ranges allow
``R = S = 0``. The tuner rejects such a draw before training: the trial is recorded as a failed
*rejected* draw (not a training job, not counted in the budget) and the same training job slot
is sampled again. Grid search leaves invalid combinations out of the grid.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from ipinsights.config import MAX_NEGATIVES, HyperParameters
from ipinsights.errors import ConfigError
from ipinsights.tune._types import (
    CategoricalRange,
    ContinuousRange,
    IntegerRange,
    ParameterRange,
    ScalingType,
    TuningJobConfig,
)

__all__ = [
    "AUTO_LOG_RATIO",
    "decode",
    "default_ranges",
    "distributions",
    "encode",
    "grid",
    "hyperparameters",
    "negative_rates_feasible",
    "param_name",
    "resolve_scaling",
]

#: ``Auto`` uses a logarithmic scale when the range spans at least this ratio.
AUTO_LOG_RATIO = 10.0

_R, _S = "random_negative_sampling_rate", "shuffled_negative_sampling_rate"


def default_ranges() -> tuple[ParameterRange, ...]:
    """The recommended ranges (the spec's table), all nine with ``ScalingType Auto``.

    With the Auto rule this gives logarithmic scales for epochs, learning_rate, mini_batch_size,
    num_entity_vectors, num_ip_encoder_layers and vector_dim, and linear ones for the negative
    sampling rates and weight_decay (their ranges start at 0).
    """
    auto = ScalingType.AUTO
    return (
        IntegerRange("epochs", 1, 100, auto),
        ContinuousRange("learning_rate", 1e-4, 0.1, auto),
        IntegerRange("mini_batch_size", 100, 50000, auto),
        IntegerRange("num_entity_vectors", 10000, 1000000, auto),
        IntegerRange("num_ip_encoder_layers", 1, 10, auto),
        IntegerRange(_R, 0, 10, auto),
        IntegerRange(_S, 0, 10, auto),
        IntegerRange("vector_dim", 8, 256, auto),
        ContinuousRange("weight_decay", 0.0, 1.0, auto),
    )


def resolve_scaling(r: IntegerRange | ContinuousRange) -> ScalingType:
    """The scale a range is sampled on (``Auto`` resolved by the rule in the module docstring)."""
    if r.scaling is not ScalingType.AUTO:
        return r.scaling
    if r.min_value > 0 and r.max_value / r.min_value >= AUTO_LOG_RATIO:
        return ScalingType.LOGARITHMIC
    return ScalingType.LINEAR


def param_name(r: ParameterRange) -> str:
    """The Optuna parameter behind a range (``1-NAME`` for a reverse-logarithmic one)."""
    if isinstance(r, ContinuousRange) and resolve_scaling(r) is ScalingType.REVERSE_LOGARITHMIC:
        return f"1-{r.name}"
    return r.name


def distributions(ranges: tuple[ParameterRange, ...]) -> dict[str, BaseDistribution]:
    """Optuna distributions, keyed by :func:`param_name`."""
    out: dict[str, BaseDistribution] = {}
    for r in ranges:
        if isinstance(r, CategoricalRange):
            out[r.name] = CategoricalDistribution(list(r.values))
            continue
        scaling = resolve_scaling(r)
        if isinstance(r, IntegerRange):
            out[r.name] = IntDistribution(r.min_value, r.max_value, log=scaling is ScalingType.LOGARITHMIC)
        elif scaling is ScalingType.REVERSE_LOGARITHMIC:
            # 1 - x for x in [min, max] lies in [1 - max, 1 - min], inside (0, 1] because max < 1.
            out[param_name(r)] = FloatDistribution(1.0 - r.max_value, 1.0 - r.min_value, log=True)
        else:
            out[r.name] = FloatDistribution(r.min_value, r.max_value, log=scaling is ScalingType.LOGARITHMIC)
    return out


def decode(ranges: tuple[ParameterRange, ...], params: Mapping[str, Any]) -> dict[str, Any]:
    """Hyperparameter values from a trial's Optuna parameters."""
    out: dict[str, Any] = {}
    for r in ranges:
        value = params[param_name(r)]
        if isinstance(r, ContinuousRange) and param_name(r) != r.name:
            value = min(r.max_value, max(r.min_value, 1.0 - value))
        out[r.name] = value
    return out


def encode(ranges: tuple[ParameterRange, ...], values: Mapping[str, Any]) -> dict[str, Any] | None:
    """Optuna parameters for hyperparameter values, or None when a value is outside the space.

    Used by warm start to place a parent's training jobs in this job's space.
    """
    out: dict[str, Any] = {}
    for r in ranges:
        if r.name not in values:
            return None
        value = values[r.name]
        if isinstance(r, CategoricalRange):
            text = _text(value)
            matches = [v for v in r.values if _same_value(r.name, v, text)]
            if not matches:
                return None
            out[r.name] = matches[0]
            continue
        number = float(value)
        if not r.min_value <= number <= r.max_value:
            return None
        if isinstance(r, IntegerRange):
            out[r.name] = int(number)
        elif param_name(r) != r.name:
            out[param_name(r)] = 1.0 - number
        else:
            out[r.name] = number
    return out


def hyperparameters(config: TuningJobConfig, values: Mapping[str, Any]) -> HyperParameters:
    """The full hyperparameters of a trial: static values, then the tuned ``values``.

    For Hyperband, ``epochs`` is ``MaxResource``.

    Raises:
        ConfigError: The combination is invalid (R + S outside [1, 500]).
    """
    merged: dict[str, Any] = dict(config.static_hyperparameters)
    merged.update(values)
    if config.hyperband is not None:
        merged["epochs"] = config.hyperband[1]
    return HyperParameters.from_mapping(merged)


def grid(
    ranges: tuple[ParameterRange, ...], static: Mapping[str, Any], *, seed: int
) -> tuple[list[dict[str, str]], int]:
    """Every valid combination of categorical ranges, in an order shuffled by ``seed``.

    Returns:
        The combinations (parameter name to value) and how many were left out because
        R + S is outside [1, 500].
    """
    names = [r.name for r in ranges if isinstance(r, CategoricalRange)]
    values = [r.values for r in ranges if isinstance(r, CategoricalRange)]
    valid, skipped = [], 0
    for combo in itertools.product(*values):
        params = dict(zip(names, combo, strict=True))
        if _negatives_ok({**static, **params}):
            valid.append(params)
        else:
            skipped += 1
    order = np.random.default_rng(seed).permutation(len(valid))
    return [valid[i] for i in order], skipped


def negative_rates_feasible(ranges: tuple[ParameterRange, ...], static: Mapping[str, Any]) -> str | None:
    """A message when no draw of the ranges gives ``1 <= R + S <= 500``, else None."""
    default = {n: HyperParameters.__dataclass_fields__[n].default for n in (_R, _S)}

    def bounds(name: str) -> tuple[float, float]:
        for r in ranges:
            if r.name == name:
                if isinstance(r, CategoricalRange):
                    vals = [float(HyperParameters.constraint(name).parse(name, v)) for v in r.values]
                    return min(vals), max(vals)
                return float(r.min_value), float(r.max_value)
        value = float(static.get(name, default[name]))
        return value, value

    (r_lo, r_hi), (s_lo, s_hi) = bounds(_R), bounds(_S)
    if r_hi + s_hi < 1:
        return (
            f"{_R} + {_S} must be at least 1 but the ranges and static values allow only R = S = 0; "
            "let one of them be at least 1"
        )
    if r_lo + s_lo > MAX_NEGATIVES:
        return f"{_R} + {_S} must be at most {MAX_NEGATIVES} but the ranges allow only sums of {r_lo + s_lo:g} or more"
    return None


def seed_for(random_seed: int, *keys: int | str) -> int:
    """A 32-bit seed derived from the job's ``RandomSeed`` and ``keys`` (stable across runs)."""
    text = "/".join(str(k) for k in (random_seed, *keys))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def _negatives_ok(values: Mapping[str, Any]) -> bool:
    r = float(values.get(_R, HyperParameters.__dataclass_fields__[_R].default))
    s = float(values.get(_S, HyperParameters.__dataclass_fields__[_S].default))
    return 1 <= r + s <= MAX_NEGATIVES


def _text(value: Any) -> str:
    return str(value).strip()


def _same_value(name: str, a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        constraint = HyperParameters.constraint(name)
        return math.isclose(float(constraint.parse(name, a)), float(constraint.parse(name, b)))
    except ConfigError:
        return False
