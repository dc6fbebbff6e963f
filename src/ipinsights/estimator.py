"""``IPInsights``: the estimator-style Python API (fit, score, save, load)."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch

import ipinsights.distributed as distributed
from ipinsights.addresses import parse_ips
from ipinsights.artifact import load_artifact, save_artifact
from ipinsights.config import HyperParameters
from ipinsights.data import (
    Pairs,
    sorted_unique,
)
from ipinsights.entities import entity_rows, hash_entities
from ipinsights.errors import ArtifactError, ConfigError, DataError, DeviceError, NotFittedError
from ipinsights.history import KIND_WEIGHTS, EntityHistory, HistoryScore
from ipinsights.model import DESIGNS, IPInsightsNet, check_training_memory
from ipinsights.readers import as_pairs
from ipinsights.scoring import Scorer, Scores
from ipinsights.train import EpochCallback, PairTensors, ValidationSet, score_pairs, train_network

__all__ = ["IPInsights", "Scores", "resolve_device"]

_STDOUT: Any = object()


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; ``"cuda"`` without a GPU is an error."""
    name = str(device)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError(
            f"device {name!r} was requested but CUDA is not available here; use --device auto or cpu"
        )
    if name != "cpu" and not name.startswith("cuda"):
        raise DeviceError(f"device must be auto, cpu or cuda[:N], got {name!r}")
    return torch.device(name)


class IPInsights:
    """IP Insights: learn which IP addresses each entity normally uses; score new pairs.

    Args:
        hyperparameters: A :class:`HyperParameters`; or give the hyperparameters as keywords.
        seed: Seed for initialisation, shuffling and negative sampling (same seed, same data,
            same weights on CPU).
        device: ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.
        ip_encoder: ``"prefix"`` (default; see ``docs/design.md``) or ``"bits"``.
        **kwargs: The reference's hyperparameters by name (``num_entity_vectors`` and
            ``vector_dim`` are required).

    Raises:
        ConfigError: Unknown, missing or out-of-range hyperparameters.

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"entity": ["alice"] * 50 + ["bob"] * 50,
        ...                       "ip": ["10.0.0.1"] * 50 + ["192.168.7.9"] * 50})
        >>> model = IPInsights(num_entity_vectors=8, vector_dim=8, epochs=20, mini_batch_size=20,
        ...                    learning_rate=0.05).fit(frame, log=None)
        >>> alice_home, alice_bobs = model.score(["alice", "alice"], ["10.0.0.1", "192.168.7.9"])
        >>> bool(alice_home > alice_bobs)
        True
        >>> model.known_entities(["alice", "mallory"]).tolist()
        [True, False]
    """

    def __init__(
        self,
        hyperparameters: HyperParameters | None = None,
        *,
        seed: int = 0,
        device: str = "auto",
        ip_encoder: str = "prefix",
        history_score: bool = True,
        **kwargs: Any,
    ) -> None:
        if hyperparameters is not None and kwargs:
            raise ConfigError("give either a HyperParameters object or hyperparameter keywords, not both")
        self.hyperparameters = (
            hyperparameters if hyperparameters is not None else HyperParameters.from_mapping(kwargs)
        )
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got seed={seed!r}")
        if ip_encoder not in DESIGNS:
            raise ConfigError(f"ip_encoder must be one of {', '.join(DESIGNS)}, got ip_encoder={ip_encoder!r}")
        self.seed = seed
        self.device = resolve_device(device)
        self.ip_encoder = ip_encoder
        self.use_history_score = bool(history_score)
        self.net: IPInsightsNet | None = None
        self.history: EntityHistory | None = None
        self.history_score: HistoryScore | None = None
        self.known_entity_hashes = np.zeros(0, dtype=np.uint64)
        self.metrics_: dict[str, float] = {}
        self.history_: list[dict[str, float]] = []
        self.meta_: dict[str, Any] = {}

    # -- training ---------------------------------------------------------------------------

    def fit(
        self,
        train: str | os.PathLike[str] | Any,
        *,
        validation: str | os.PathLike[str] | Any | None = None,
        callbacks: Sequence[EpochCallback] = (),
        log: TextIO | None = _STDOUT,
        max_bad_fraction: float = 0.01,
        progress: bool = True,
        host: str = "algo-1",
        format: str = "csv",
        entity_field: str | None = None,
        ip_field: str | None = None,
    ) -> IPInsights:
        """Train on observed ``(entity, ip)`` pairs.

        In a ``torch.distributed`` run of several workers (``torchrun``, ``ipinsights train
        --nproc N``), every worker calls ``fit`` on the same data and trains its share of every
        batch; the weights stay identical, and rank 0 alone logs, validates and runs the
        callbacks (see :mod:`ipinsights.distributed`).

        Args:
            train: A CSV path (file, ``.gz`` or directory of files), ``"-"`` for stdin, a
                pandas DataFrame with two columns (entity, ip), or :class:`~ipinsights.data.Pairs`.
            validation: Same forms; enables ``validation:discriminator_auc`` every epoch.
            callbacks: ``callback(epoch, metrics) -> bool | None`` after each epoch (epoch is
                the 1-based count of completed epochs); returning True stops training.
            log: Text stream for the metric log lines (default: stdout; ``None``: silent).
            max_bad_fraction: Stop before training if more than this share of rows is bad.
            progress: Show a progress bar when stderr is a terminal.
            host: The ``host=`` field of the metric lines.
            format, entity_field, ip_field: How to read ``train`` and ``validation`` when they
                are paths: a log format of :func:`ipinsights.read_log` (``"sshd"``,
                ``"cloudtrail"``, ``"jsonl"``, ...), default headerless CSV.

        Returns:
            ``self``, trained; ``metrics_`` holds the last epoch's metrics, ``history_`` all.

        Raises:
            DataError: Unreadable or empty input, or too many bad rows.
        """
        out = sys.stdout if log is _STDOUT else log
        hp = self.hyperparameters
        read = functools.partial(
            as_pairs, max_bad_fraction=max_bad_fraction, format=format, entity_field=entity_field, ip_field=ip_field
        )
        train_pairs = read(train, "train")
        val_pairs = read(validation, "validation") if validation is not None else None
        check_training_memory(
            hp.num_entity_vectors,
            hp.vector_dim,
            hp.num_ip_encoder_layers,
            ip_encoder=self.ip_encoder,
            num_entities=train_pairs.report.num_distinct_entities,
            device=self.device,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            net = IPInsightsNet(
                hp.num_entity_vectors, hp.vector_dim, hp.num_ip_encoder_layers, ip_encoder=self.ip_encoder
            )
        self.net = net.to(self.device)
        generator = torch.Generator(device=self.device).manual_seed(self.seed)
        # Under torchrun (or `ipinsights train --nproc N`) this process is one data-parallel
        # worker: all shuffle alike, each draws its own negatives (ipinsights.distributed).
        data_parallel = distributed.current()
        sampling_generator = (
            torch.Generator(device=self.device).manual_seed(distributed.sampling_seed(self.seed, data_parallel.rank))
            if data_parallel is not None
            else None
        )
        ipv6_share = train_pairs.report.num_ipv6_rows / max(1, len(train_pairs))
        train_tensors = self._tensors(train_pairs)
        validation_set = (
            ValidationSet.build(self._tensors(val_pairs), train_tensors)
            if val_pairs is not None and (data_parallel is None or data_parallel.is_main)
            else None
        )
        self.history_ = train_network(
            self.net,
            train_tensors,
            hp,
            generator=generator,
            sampling_generator=sampling_generator,
            data_parallel=data_parallel,
            validation=validation_set,
            callbacks=callbacks,
            log=out,
            host=host,
            ipv6_share=ipv6_share,
            progress=progress,
        )
        self.metrics_ = dict(self.history_[-1]) if self.history_ else {}
        self.known_entity_hashes = sorted_unique(train_pairs.entity_hash)
        self.history, self.history_score = None, None
        if self.use_history_score and validation_set is not None and val_pairs is not None:
            self.history = EntityHistory.build(train_pairs.entity_hash, train_pairs.ip_hi, train_pairs.ip_lo)
            self.history_score = self._fit_history_score(val_pairs, validation_set)
        self.meta_ = {
            "seed": self.seed,
            "training_data": train_pairs.report.to_dict(),
            "validation_data": val_pairs.report.to_dict() if val_pairs is not None else None,
            "epochs_completed": len(self.history_),
            "metrics": self.metrics_,
            "history": self.history_,
        }
        return self

    def _fit_history_score(self, val_pairs: Pairs, validation_set: ValidationSet) -> HistoryScore:
        """Fit :class:`HistoryScore` on the validation days against every kind of validation
        negative (one per pair and kind), each kind weighed by :data:`~ipinsights.history.KIND_WEIGHTS`."""
        assert self.net is not None and self.history is not None
        self.net.eval()
        features = []
        kinds = validation_set.negatives()
        for pairs in (validation_set.pairs, *kinds.values()):
            dot = score_pairs(self.net, pairs).cpu().numpy()
            hi, lo = pairs.ip_hi.cpu().numpy(), pairs.ip_lo.cpu().numpy()
            features.append(self.history.features(val_pairs.entity_hash, hi, lo, dot))
        return HistoryScore.fit(features[0], features[1:], kind_weights=[KIND_WEIGHTS[name] for name in kinds])

    def _tensors(self, pairs: Pairs) -> PairTensors:
        rows = entity_rows(pairs.entity_hash, self.hyperparameters.num_entity_vectors)
        return PairTensors(
            torch.from_numpy(rows).to(self.device),
            torch.from_numpy(pairs.ip_hi).to(self.device),
            torch.from_numpy(pairs.ip_lo).to(self.device),
        )

    # -- scoring ----------------------------------------------------------------------------

    def _require_net(self) -> IPInsightsNet:
        if self.net is None:
            raise NotFittedError("this IPInsights model is not trained yet; call fit() or IPInsights.load()")
        return self.net

    def scorer(self) -> Scorer:
        """The inference path of this model (:class:`~ipinsights.scoring.Scorer`: the encoder
        folded into tables when it is linear), built on first use and again when the weights,
        the known entities or the history change.

        Raises:
            NotFittedError: The model is not trained (a ConfigError).
        """
        net = self._require_net()
        if getattr(self, "_scorer_net", None) is not net:
            self._scorer_net, self._scorer_parameters = net, list(net.parameters())
        # Parameters' version counters move with every in-place update (training, load_state_dict).
        key = (
            id(net),
            sum(p._version for p in self._scorer_parameters),
            id(self.known_entity_hashes),
            id(self.history),
            id(self.history_score),
        )
        if getattr(self, "_scorer_key", None) != key:
            self._scorer = Scorer(
                net,
                num_entity_vectors=self.hyperparameters.num_entity_vectors,
                known_entity_hashes=self.known_entity_hashes,
                history=self.history,
                history_score=self.history_score,
            )
            self._scorer_key = key
        return self._scorer

    def score_hashed(
        self,
        entity_hash: np.ndarray,
        ip_hi: np.ndarray,
        ip_lo: np.ndarray,
        *,
        embeddings: bool = False,
    ) -> Scores:
        """Score pairs already hashed and parsed (see :mod:`ipinsights.data`).

        Scores through :meth:`scorer`: with the default single encoder layer the IP encoder is
        folded into lookup tables, which gives the network's dot products to float32 rounding
        (about 1e-7 relative to the size of the vectors' products), not bit for bit.

        Returns:
            :class:`Scores` with dot products, known-entity flags, the combined score when the
            model has one and, with ``embeddings=True``, the entity and IP vectors.

        Example:
            >>> from ipinsights.addresses import parse_ips
            >>> from ipinsights.entities import hash_entities
            >>> _, hi, lo = parse_ips(["10.0.0.1"])
            >>> model.score_hashed(hash_entities(["alice"]), hi, lo).dot_product  # doctest: +SKIP
            array([4.2], dtype=float32)
        """
        return self.scorer().score(entity_hash, ip_hi, ip_lo, embeddings=embeddings)

    def score(self, entities: Sequence[str], ips: Sequence[str]) -> np.ndarray:
        """The raw ``dot_product`` of each (entity, ip) pair: high = usual, low = anomalous.

        Args:
            entities: Entity names.
            ips: IPv4 or IPv6 address strings, one per entity.

        Returns:
            (n,) float32 array. Use ``-score`` as an anomaly score.

        Raises:
            DataError: Lengths differ or an address is not valid (the first bad one is named).

        Example:
            >>> model.score(["alice"], ["10.0.0.1"])  # doctest: +SKIP
            array([4.2], dtype=float32)
        """
        if len(entities) != len(ips):
            raise DataError(f"{len(entities)} entities but {len(ips)} IP addresses; give one IP per entity")
        ok, hi, lo = parse_ips(ips)
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            raise DataError(f"ips[{i}]: {ips[i]!r} is not an IP address ({int((~ok).sum())} invalid in all)")
        return self.score_hashed(hash_entities(entities), hi, lo).dot_product

    def known_hashes(self, entity_hash: np.ndarray) -> np.ndarray:
        """Whether each entity hash occurred in the training data, (n,) bool."""
        known = self.known_entity_hashes
        if not len(known):
            return np.zeros(len(entity_hash), dtype=bool)
        pos = np.minimum(np.searchsorted(known, entity_hash), len(known) - 1)
        return known[pos] == entity_hash

    def known_entities(self, entities: Sequence[str]) -> np.ndarray:
        """Whether each entity occurred in the training data (scores of unknown ones mean little).

        Returns:
            (n,) bool array.
        """
        return self.known_hashes(hash_entities(entities))

    def embed_entities(self, entities: Sequence[str]) -> np.ndarray:
        """(n, vector_dim) entity vectors."""
        net = self._require_net()
        rows = torch.from_numpy(entity_rows(hash_entities(entities), self.hyperparameters.num_entity_vectors))
        with torch.no_grad():
            return net.embed_entities(rows.to(self.device)).cpu().numpy()

    def embed_ips(self, ips: Sequence[str]) -> np.ndarray:
        """(n, vector_dim) IP vectors.

        Raises:
            DataError: An address is not valid.
        """
        net = self._require_net()
        ok, hi, lo = parse_ips(ips)
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            raise DataError(f"ips[{i}]: {ips[i]!r} is not an IP address")
        with torch.no_grad():
            return (
                net.embed_ips(torch.from_numpy(hi).to(self.device), torch.from_numpy(lo).to(self.device))
                .cpu()
                .numpy()
            )

    # -- persistence ------------------------------------------------------------------------

    def save(self, model_dir: str | os.PathLike[str]) -> Path:
        """Write the model artifact (``model.safetensors`` + ``model.json``) into ``model_dir``.

        Returns:
            The directory.
        """
        net = self._require_net()
        return save_artifact(
            model_dir,
            net,
            self.known_entity_hashes,
            hyperparameters=self.hyperparameters,
            ip_encoder=self.ip_encoder,
            extra={**self.meta_, "history_score": self.history_score.to_dict() if self.history_score else None},
            extra_tensors=self.history.to_tensors() if self.history is not None and self.history_score else None,
        )

    @classmethod
    def load(cls, model_dir: str | os.PathLike[str], *, device: str = "cpu") -> IPInsights:
        """Load a model saved with :meth:`save` (or by ``ipinsights train``).

        Raises:
            ArtifactError: The directory is missing, damaged, truncated or incompatible.
        """
        dev = resolve_device(device)
        artifact = load_artifact(model_dir, device=dev)
        model = cls(
            artifact.hyperparameters,
            seed=int(artifact.meta.get("seed", 0)),
            device=str(dev),
            ip_encoder=artifact.meta.get("ip_encoder", "prefix"),
        )
        model.net = artifact.net
        model.known_entity_hashes = artifact.known_entity_hashes
        try:
            model.history = EntityHistory.from_tensors(artifact.extra_tensors)
            stored = artifact.meta.get("history_score")
            model.history_score = HistoryScore.from_dict(stored) if stored is not None else None
        except ValueError as exc:
            raise ArtifactError(f"{model_dir}: the entity history is damaged ({exc})") from None
        if (model.history is None) != (model.history_score is None):
            raise ArtifactError(f"{model_dir}: the entity history and its history_score must come together")
        model.meta_ = {
            k: artifact.meta[k]
            for k in ("seed", "training_data", "validation_data", "epochs_completed", "metrics", "history")
            if k in artifact.meta
        }
        model.metrics_ = dict(artifact.meta.get("metrics") or {})
        model.history_ = list(artifact.meta.get("history") or [])
        return model

    def __repr__(self) -> str:
        hp = self.hyperparameters
        state = "trained" if self.net is not None else "untrained"
        return f"IPInsights(num_entity_vectors={hp.num_entity_vectors}, vector_dim={hp.vector_dim}, {state})"
