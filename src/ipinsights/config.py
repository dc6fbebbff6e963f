"""The ten IP Insights hyperparameters, declared once.

Names, defaults and valid ranges are exactly those of the reference algorithm. The CLI help, the
docs table and the validation are all generated from the field metadata below.

Example:
    >>> hp = HyperParameters(num_entity_vectors=20000, vector_dim=128)
    >>> hp.epochs
    10
    >>> HyperParameters.from_mapping({"num_entity_vectors": "20000", "vector_dim": "128",
    ...                               "learning_rate": "1e-3"}).learning_rate
    0.001
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ipinsights.errors import ConfigError

__all__ = ["MAX_NEGATIVES", "Constraint", "HyperParameters", "platform_keys"]

#: The reference's rule: 1 <= random_negative_sampling_rate + shuffled_negative_sampling_rate <= 500.
MAX_NEGATIVES = 500
#: Below this many optimiser steps per epoch, :meth:`HyperParameters.warnings_for` warns.
MIN_STEPS_PER_EPOCH = 100
#: Above this many table rows per distinct entity, :meth:`HyperParameters.warnings_for` warns.
MAX_TABLE_PER_ENTITY = 10

#: Keys that SageMaker and its Python SDK add to a training job's hyperparameters and the
#: reference's container ignores: ``_tuning_objective_metric`` (written by tuning),
#: ``sagemaker_*`` (``include_cls_metadata``, framework settings) and ``feature_dim`` (the SDK's
#: ``IPInsights`` estimator sends it for its RecordSet input).
PLATFORM_KEYS = ("_tuning_objective_metric", "feature_dim")


def platform_keys(values: Mapping[str, Any]) -> list[str]:
    """The keys of ``values`` that SageMaker or its SDK added (ignored by :meth:`from_mapping`)."""
    return [k for k in values if isinstance(k, str) and (k in PLATFORM_KEYS or k.startswith("sagemaker_"))]


@dataclass(frozen=True)
class Constraint:
    """The valid values of one hyperparameter on its own: a type and an inclusive range.

    One per field of :class:`HyperParameters` (``HyperParameters.constraint(name)``), used by its
    validation and by the tuner, which checks single values (a range's bounds, a categorical
    value, a static value) before the whole set is known. Rules between values (R + S) are
    :class:`HyperParameters`' own.

    Example:
        >>> dim = HyperParameters.constraint("vector_dim")
        >>> dim.rule, dim.parse("vector_dim", "128")
        ('an integer in [4, 4096]', 128)
        >>> dim.parse("vector_dim", "12.5")
        Traceback (most recent call last):
        ...
        ipinsights.errors.ConfigError: vector_dim must be an integer in [4, 4096], got vector_dim=12.5
    """

    kind: type  # int or float
    low: float
    high: float | None  # None: unbounded above

    @property
    def rule(self) -> str:
        """``an integer in [4, 4096]``, ``a number >= 1``: what the error messages say."""
        kind = "an integer" if self.kind is int else "a number"
        return f"{kind} >= {self.low:g}" if self.high is None else f"{kind} in [{self.low:g}, {self.high:g}]"

    @property
    def interval(self) -> str:
        """``[4, 4096]`` or ``>= 1``."""
        return f">= {self.low:g}" if self.high is None else f"[{self.low:g}, {self.high:g}]"

    def contains(self, number: float) -> bool:
        """Whether ``number`` lies in the range (its type is not checked)."""
        return self.low <= number and (self.high is None or number <= self.high)

    def check(self, name: str, value: Any) -> None:
        """Raise :class:`ConfigError` unless ``value`` has the right type and lies in the range."""
        ok_type = (
            isinstance(value, int) and not isinstance(value, bool)
            if self.kind is int
            else isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        )
        if not ok_type or not self.contains(value):
            raise ConfigError(f"{name} must be {self.rule}, got {name}={value!r}")

    def convert(self, name: str, value: Any) -> Any:
        """A (possibly string) value as the field's type, without silently truncating; unchecked."""
        if isinstance(value, bool):
            raise ConfigError(f"{name} must be {self.rule}, got {name}={value!r}")
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                raise ConfigError(f"{name} must be {self.rule}, got {name}={value!r}") from None
        if self.kind is int:
            if isinstance(value, float):
                if not value.is_integer():
                    raise ConfigError(f"{name} must be {self.rule}, got {name}={value!r}")
                value = int(value)
            return value
        return float(value) if isinstance(value, int) else value

    def parse(self, name: str, value: Any) -> int | float:
        """:meth:`convert` then :meth:`check`: the value as the hyperparameter will hold it."""
        converted = self.convert(name, value)
        self.check(name, converted)
        return converted


def _hp(kind: type, low: float, high: float | None, help: str, default: Any = dataclasses.MISSING):
    """A hyperparameter field: its :class:`Constraint` (type, inclusive range) and help."""
    meta = {"constraint": Constraint(kind, low, high), "help": help}
    if default is dataclasses.MISSING:
        return field(metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True, kw_only=True)
class HyperParameters:
    """IP Insights hyperparameters (reference names, defaults and ranges).

    Args:
        num_entity_vectors: Rows of the hashed entity table (about 2x the distinct entities).
        vector_dim: Size of the entity and IP vectors.
        batch_metrics_publish_interval: Print batch metrics every this many batches.
        epochs: Passes over the training data.
        learning_rate: Adam step size.
        mini_batch_size: Observed pairs per batch.
        num_ip_encoder_layers: Fully connected layers at the end of the IP encoder.
        random_negative_sampling_rate: R, negatives per pair with a uniformly random IP.
        shuffled_negative_sampling_rate: S, negatives per pair shuffled inside the batch.
        weight_decay: L2 penalty coefficient (coupled, as ``torch.optim.Adam``).
        nearby_negative_sampling_rate: N, negatives per pair whose address lies in a network next
            to the pair's own (:func:`ipinsights.sampling.nearby_ips`); not in the reference,
            whose behaviour is N = 0.

    Raises:
        ConfigError: A value is outside its range, has the wrong type, or R + S is outside
            [1, 500].

    Example:
        >>> HyperParameters(num_entity_vectors=10, vector_dim=5000)
        Traceback (most recent call last):
        ...
        ipinsights.errors.ConfigError: vector_dim must be an integer in [4, 4096], got vector_dim=5000
    """

    num_entity_vectors: int = _hp(
        int, 1, 250_000_000, "rows of the hashed entity table (required; about 2x the distinct entities)"
    )
    vector_dim: int = _hp(int, 4, 4096, "size of the entity and IP vectors (required; 128 recommended)")
    batch_metrics_publish_interval: int = _hp(int, 1, None, "print batch metrics every N batches", 1000)
    epochs: int = _hp(int, 1, None, "passes over the training data", 10)
    learning_rate: float = _hp(float, 1e-6, 10.0, "Adam step size", 0.001)
    mini_batch_size: int = _hp(int, 1, 500_000, "observed pairs per mini-batch", 10000)
    num_ip_encoder_layers: int = _hp(int, 0, 100, "fully connected layers at the end of the IP encoder", 1)
    random_negative_sampling_rate: int = _hp(
        int, 0, 500, "R: negatives per pair with a uniformly random IP", 1
    )
    shuffled_negative_sampling_rate: int = _hp(
        int, 0, 500, "S: negatives per pair shuffled inside the mini-batch", 1
    )
    weight_decay: float = _hp(
        float, 0.0, 10.0, "L2 penalty coefficient (coupled, as torch.optim.Adam)", 0.00001
    )
    nearby_negative_sampling_rate: int = _hp(
        int, 0, 500, "N (ours): negatives per pair from a network next to its own; 0 = the reference", 0
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            f.metadata["constraint"].check(f.name, getattr(self, f.name))
        total = self.random_negative_sampling_rate + self.shuffled_negative_sampling_rate
        if not 1 <= total <= MAX_NEGATIVES:
            raise ConfigError(
                "random_negative_sampling_rate + shuffled_negative_sampling_rate must be in "
                f"[1, {MAX_NEGATIVES}], got {self.random_negative_sampling_rate} + "
                f"{self.shuffled_negative_sampling_rate} = {total}"
            )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> HyperParameters:
        """Build from a name-to-value map, such as SageMaker's ``hyperparameters.json``.

        Values may be Python numbers or their string forms (``"128"``, ``"1e-3"``, ``"5.0"``).
        The keys SageMaker and its SDK add (:func:`platform_keys`: ``_tuning_objective_metric``,
        ``sagemaker_*``, ``feature_dim``) are ignored, as the reference's container ignores them.

        Args:
            values: Hyperparameter names to values. Must include the required ones.

        Returns:
            The validated hyperparameters.

        Raises:
            ConfigError: An unknown name (with the closest valid name), a missing required
                name, or a value that cannot be converted or is out of range.

        Example:
            >>> HyperParameters.from_mapping({"num_entity_vectors": "100", "vector_dim": "8",
            ...                               "epochs": "2"}).epochs
            2
        """
        names = cls.names()
        ignored = platform_keys(values)
        values = {k: v for k, v in values.items() if k not in ignored}
        unknown = [k for k in values if k not in names]
        if unknown:
            name = unknown[0]
            close = difflib.get_close_matches(name, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; valid names: {', '.join(names)}"
            raise ConfigError(f"unknown hyperparameter {name!r}{hint}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        converted = {k: fields[k].metadata["constraint"].convert(k, v) for k, v in values.items()}
        missing = [f.name for f in dataclasses.fields(cls) if f.name not in converted and not _has_default(f)]
        if missing:
            raise ConfigError(
                f"missing required hyperparameter(s): {', '.join(missing)} "
                f"(set them, e.g. --hp {missing[0]}=...)"
            )
        return cls(**converted)

    @classmethod
    def names(cls) -> list[str]:
        """The hyperparameter names, in declaration order."""
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def constraint(cls, name: str) -> Constraint:
        """The :class:`Constraint` of one hyperparameter.

        Raises:
            ConfigError: ``name`` is not a hyperparameter (with the closest valid name).
        """
        f = cls.__dataclass_fields__.get(name)
        if f is None:
            names = cls.names()
            close = difflib.get_close_matches(name, names, n=1) if isinstance(name, str) else []
            hint = f"; did you mean {close[0]!r}?" if close else f"; valid names: {', '.join(names)}"
            raise ConfigError(f"unknown hyperparameter {name!r}{hint}")
        return f.metadata["constraint"]

    @classmethod
    def describe(cls) -> list[dict[str, Any]]:
        """One dict per hyperparameter: name, required, default, kind, low, high, help.

        Used to generate the CLI help and the docs table.
        """
        rows = []
        for f in dataclasses.fields(cls):
            constraint = f.metadata["constraint"]
            rows.append(
                {
                    "name": f.name,
                    "required": not _has_default(f),
                    "default": None if not _has_default(f) else f.default,
                    "kind": constraint.kind.__name__,
                    "low": constraint.low,
                    "high": constraint.high,
                    "help": f.metadata["help"],
                }
            )
        return rows

    def to_dict(self) -> dict[str, int | float]:
        """The hyperparameters as a plain dict (JSON-serialisable)."""
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> HyperParameters:
        """A copy with some values changed (validated), as ``dataclasses.replace``."""
        return dataclasses.replace(self, **changes)

    def warnings_for(self, num_rows: int, num_entities: int) -> list[str]:
        """One line per way these values make training on this data pointless, each with the fix.

        Checked: fewer than :data:`MIN_STEPS_PER_EPOCH` optimiser steps per epoch (with the
        default ``mini_batch_size=10000`` a 10,000-row log gets one step per epoch: measured
        accuracy 0.55, attacks scored as normal); fewer table rows than entities (entities share
        rows by hash collision and so share vectors); a table more than
        :data:`MAX_TABLE_PER_ENTITY` times the entities (rows no entity hashes to are never
        trained, yet cost memory and time). The fixes follow SageMaker's advice of about twice
        as many table rows as entities.

        Args:
            num_rows: Training pairs.
            num_entities: Distinct entities among them.

        Returns:
            The warnings, empty when none applies.

        Example:
            >>> hp = HyperParameters(num_entity_vectors=20000, vector_dim=128)
            >>> hp.warnings_for(10_000, 500)[0]  # doctest: +ELLIPSIS
            'mini_batch_size=10000 gives 1 step per epoch on 10000 rows (fewer than 100 ...'
        """
        found = []
        steps = -(-num_rows // self.mini_batch_size)
        if num_rows and steps < MIN_STEPS_PER_EPOCH:
            batch = max(1, num_rows // MIN_STEPS_PER_EPOCH)
            found.append(
                f"mini_batch_size={self.mini_batch_size} gives {steps} step{'s' * (steps != 1)} per epoch on "
                f"{num_rows} rows (fewer than {MIN_STEPS_PER_EPOCH} steps: the model barely trains); "
                f"set --hp mini_batch_size={batch} or lower"
            )
        suggested = max(2 * num_entities, 1)
        if self.num_entity_vectors < num_entities:
            found.append(
                f"num_entity_vectors={self.num_entity_vectors} is below the {num_entities} distinct entities "
                f"(entities share table rows by hash collision and cannot be told apart); "
                f"set --hp num_entity_vectors={suggested}"
            )
        elif num_entities and self.num_entity_vectors > MAX_TABLE_PER_ENTITY * num_entities:
            found.append(
                f"num_entity_vectors={self.num_entity_vectors} is over {MAX_TABLE_PER_ENTITY}x the "
                f"{num_entities} distinct entities (most of the table is never trained but costs memory "
                f"and time); set --hp num_entity_vectors={suggested}"
            )
        return found


def _has_default(f: dataclasses.Field) -> bool:
    return f.default is not dataclasses.MISSING
