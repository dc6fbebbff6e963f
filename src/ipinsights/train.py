"""The training loop: observed pairs against random-IP, shuffled and nearby negatives, one epoch at a time.

The loop knows nothing about IP addresses beyond handing their words on: each step takes a
batch, draws its candidates and runs one step of the kernel that the run's
:class:`~ipinsights.sampling.NegativeMix` names (``ipinsights.kernels``, logged once), then
updates, logs the reference's metric lines, validates with the model's own score
(:meth:`~ipinsights.model.IPInsightsNet.score`) and calls the callbacks.
With a :class:`~ipinsights.distributed.DataParallel` it is one worker of several: each takes its
share of every global batch and the gradients are combined before every update
(``docs/performance.md``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

import torch

from ipinsights.addresses import NETWORK_LEVELS, PrefixLevel, is_ipv4, network, random_ips
from ipinsights.config import HyperParameters
from ipinsights.errors import TrainingDivergedError
from ipinsights.kernels import choose_mix, draw_candidates, split_batch, step_gradients
from ipinsights.metrics import (
    batch_lines,
    discriminator_auc,
    epoch_lines,
    progress_line,
    throughput_line,
    validation_line,
)
from ipinsights.model import IPInsightsNet
from ipinsights.optim import LazyAdam
from ipinsights.sampling import nearby_ips, populated_ips

if TYPE_CHECKING:  # pragma: no cover
    from ipinsights.distributed import DataParallel

__all__ = [
    "VALIDATION_METRICS",
    "VALIDATION_SEED",
    "EpochCallback",
    "PairTensors",
    "ValidationSet",
    "score_pairs",
    "train_network",
    "validation_auc",
]

#: Seed of the validation negatives: fixed, so that every run and every tuning trial on the
#: same validation data is measured against the same random addresses.
VALIDATION_SEED = 20181116
#: Validation negatives are redrawn (at most this many times) until they fall outside every
#: network of their kind (/16 or /24; IPv6 /48 or /64) the entity used in training.
_REDRAWS = 20
_TWENTY_FOUR, _SIXTEEN = NETWORK_LEVELS[1], NETWORK_LEVELS[2]

#: Draws validation negatives for the validation rows at the given indices (None: all of them).
_Draw = Callable[["torch.Tensor | None"], "tuple[torch.Tensor, torch.Tensor]"]

#: Called after each epoch with (completed epochs, metrics); returning True stops training.
EpochCallback = Callable[[int, dict[str, float]], "bool | None"]


@dataclass
class PairTensors:
    """Observed pairs on the training device: entity table rows and address words, (n,) int64."""

    entity_rows: torch.Tensor
    ip_hi: torch.Tensor
    ip_lo: torch.Tensor

    def __len__(self) -> int:
        return len(self.entity_rows)

    def take(self, idx: torch.Tensor) -> PairTensors:
        """The pairs at ``idx``; ``index_select``, a third of the time of ``t[idx]`` for a batch."""
        return PairTensors(*(t.index_select(0, idx) for t in (self.entity_rows, self.ip_hi, self.ip_lo)))

    def to(self, device: torch.device | str) -> PairTensors:
        return PairTensors(self.entity_rows.to(device), self.ip_hi.to(device), self.ip_lo.to(device))


def score_pairs(net: IPInsightsNet, pairs: PairTensors, *, chunk: int = 65536) -> torch.Tensor:
    """Dot products of pairs (:meth:`IPInsightsNet.score`), (n,) float32 on the pairs' device."""
    return net.score(pairs.entity_rows, pairs.ip_hi, pairs.ip_lo, chunk=chunk).dot_product


def validation_auc(net: IPInsightsNet, validation: PairTensors) -> float:
    """The reference's ``validation:discriminator_auc``.

    Each validation pair (label 1) is matched with one negative: the same entity with a uniformly
    random IPv4 address (label 0), drawn from :data:`VALIDATION_SEED`. Returns the exact ROC AUC.
    """
    generator = torch.Generator(device="cpu").manual_seed(VALIDATION_SEED)
    hi, lo = random_ips((len(validation),), generator)
    negatives = PairTensors(
        validation.entity_rows, hi.to(validation.ip_hi.device), lo.to(validation.ip_lo.device)
    )
    pos = score_pairs(net, validation).cpu().numpy()
    neg = score_pairs(net, negatives).cpu().numpy()
    return discriminator_auc(pos, neg)


#: The validation metrics, in the order they are printed; the tuning objectives they offer.
VALIDATION_METRICS = (
    "validation:discriminator_auc",
    "validation:other_users_auc",
    "validation:nearby_auc",
    "validation:nearby_24_auc",
    "validation:populated_auc",
    "validation:roaming_auc",
    "validation:detection_auc",
)


@dataclass
class ValidationSet:
    """Validation pairs and their fixed-seed negatives, built once before training.

    Every negative keeps the validation pair's entity and replaces its address:

    - ``random``: a uniformly random IPv4 address (the reference's ``discriminator_auc``);
    - ``other_users``: an address another entity used in training, drawn in proportion to its
      logins (busy, real addresses), never one this entity used in training or validation;
    - ``nearby``: an address in another /16 of the same /8 (IPv6: another /48 of the same /32),
      1 to 16 networks away from the pair's own (:func:`~ipinsights.sampling.nearby_ips`),
      never in a /16 (/48) this entity used in training;
    - ``nearby_24``: the same one step finer: another /24 of the pair's own /16 (IPv6: another
      /64 of its /48), 1 to 16 networks away, never a /24 (/64) this entity used in training;
    - ``populated``: an address in a /16 (IPv6: /48) that some entity used in training, drawn
      uniformly over those networks (:func:`~ipinsights.sampling.populated_ips`), never one this
      entity used: inhabited, routed space without a range table;
    - ``roaming``: the address of another entity's *roaming* validation login, one from a /16
      (IPv6: /48) that entity never used in training (travel, a new provider), drawn uniformly
      over those logins, never in a /16 (/48) this entity used in training: where people really
      log in from when they are away, which is where an attacker with a random routed address
      sits too. Without roaming logins in the validation channel, any other entity's validation
      login stands in.

    All drawn from :data:`VALIDATION_SEED` (each kind after the ones before it, so that adding a
    kind leaves the earlier ones as they were), so that every run and every tuning trial on the
    same data is measured on the same pairs. ``validation:detection_auc`` is the mean of the six
    AUCs: a configuration must separate every kind to score well on it.
    """

    pairs: PairTensors
    random: PairTensors
    other_users: PairTensors
    nearby: PairTensors
    nearby_24: PairTensors
    populated: PairTensors
    roaming: PairTensors

    @classmethod
    def build(cls, validation: PairTensors, train: PairTensors) -> ValidationSet:
        generator = torch.Generator(device="cpu").manual_seed(VALIDATION_SEED)
        device = validation.ip_hi.device
        v_rows, v_hi, v_lo = (t.cpu() for t in (validation.entity_rows, validation.ip_hi, validation.ip_lo))
        t_rows, t_hi, t_lo = (t.cpu() for t in (train.entity_rows, train.ip_hi, train.ip_lo))
        n = len(v_rows)
        hi, lo = random_ips((n,), generator)
        random = PairTensors(v_rows, hi, lo)
        # Other entities' addresses: training rows drawn uniformly (busy addresses more often).
        used = torch.cat([_pair_keys(t_rows, t_hi, t_lo), _pair_keys(v_rows, v_hi, v_lo)]).unique()
        pick = torch.randint(len(t_rows), (n,), generator=generator)
        for _ in range(_REDRAWS):
            clash = _member(_pair_keys(v_rows, t_hi[pick], t_lo[pick]), used)
            if not clash.any():
                break
            pick[clash] = torch.randint(len(t_rows), (int(clash.sum()),), generator=generator)
        other_users = PairTensors(v_rows, t_hi[pick], t_lo[pick])

        owned = {level.name: _pair_keys(t_rows, *network(t_hi, t_lo, level)).unique() for level in (_TWENTY_FOUR, _SIXTEEN)}

        def outside_own(level: PrefixLevel, draw: _Draw, *, not_used: torch.Tensor | None = None) -> PairTensors:
            """Addresses from ``draw``, redrawn while the entity used their network in training
            (or, with ``not_used``, the (entity, address) pair is one of those keys)."""
            own = owned[level.name]
            hi, lo = draw(None)
            for _ in range(_REDRAWS):
                clash = _member(_pair_keys(v_rows, *network(hi, lo, level)), own)
                if not_used is not None:
                    clash |= _member(_pair_keys(v_rows, hi, lo), not_used)
                clash = torch.nonzero(clash).flatten()
                if not len(clash):
                    break
                hi[clash], lo[clash] = draw(clash)
            return PairTensors(v_rows, hi, lo)

        def nearby(level: str) -> _Draw:
            def draw(rows: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
                at = slice(None) if rows is None else rows
                return nearby_ips(v_hi[at], v_lo[at], generator, level=level)

            return draw

        # Inhabited networks: the distinct /16s (/48s) of the training addresses.
        nets = torch.unique(torch.stack(network(t_hi, t_lo, _SIXTEEN), dim=1), dim=0)

        def populated(rows: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
            return populated_ips(nets[:, 0], nets[:, 1], n if rows is None else len(rows), generator)

        # Networks next door the entity never used (the next /16s, the next /24s), inhabited ones.
        near, near_24 = outside_own(_SIXTEEN, nearby("16")), outside_own(_TWENTY_FOUR, nearby("24"))
        inhabited = outside_own(_SIXTEEN, populated)

        # Other entities' roaming logins: validation addresses in a /16 their own entity never used,
        # redrawn while this entity used that /16 in training or the address itself (as other_users).
        pool = torch.nonzero(~_member(_pair_keys(v_rows, *network(v_hi, v_lo, _SIXTEEN)), owned[_SIXTEEN.name])).flatten()
        if not len(pool):
            pool = torch.arange(n)

        def roaming_logins(rows: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
            pick = pool[torch.randint(len(pool), (n if rows is None else len(rows),), generator=generator)]
            return v_hi[pick], v_lo[pick]

        roaming = outside_own(_SIXTEEN, roaming_logins, not_used=used)
        kinds = (validation, random, other_users, near, near_24, inhabited, roaming)
        return cls(*(p.to(device) for p in kinds))

    def negatives(self) -> dict[str, PairTensors]:
        """Each kind of negative by the name of its metric (``validation:<name>``), in print order."""
        return {
            "discriminator_auc": self.random,
            "other_users_auc": self.other_users,
            "nearby_auc": self.nearby,
            "nearby_24_auc": self.nearby_24,
            "populated_auc": self.populated,
            "roaming_auc": self.roaming,
        }

    def metrics(self, net: IPInsightsNet) -> dict[str, float]:
        """The ``validation:*`` metrics of :data:`VALIDATION_METRICS` (exact ROC AUCs)."""
        pos = score_pairs(net, self.pairs).cpu().numpy()
        out = {
            f"validation:{name}": discriminator_auc(pos, score_pairs(net, negatives).cpu().numpy())
            for name, negatives in self.negatives().items()
        }
        out["validation:detection_auc"] = sum(out.values()) / len(out)
        return out


def _pair_keys(rows: torch.Tensor, hi: torch.Tensor, lo: torch.Tensor) -> torch.Tensor:
    """One int64 key per (entity row, address): a multiplicative mix, collisions negligible."""
    return (rows * -7046029254386353131) ^ (hi * -4658895280553007687) ^ lo


def _member(keys: torch.Tensor, sorted_keys: torch.Tensor) -> torch.Tensor:
    """(n,) bool: each key is in ``sorted_keys`` (sorted, unique)."""
    if not len(sorted_keys):
        return torch.zeros(len(keys), dtype=torch.bool)
    at = torch.searchsorted(sorted_keys, keys).clamp_(max=len(sorted_keys) - 1)
    return sorted_keys[at] == keys


def _keep_freed_memory() -> None:
    """Ask glibc to keep freed memory for reuse instead of returning it to the system.

    Every step allocates and frees the same few megabytes of temporaries; with glibc's default
    thresholds they are handed back to the kernel and faulted in again, page by page, on the
    next step: about 1,000 page faults per step at the example's settings, 15-16 ms of CPU per
    step instead of 11.6-12.7 ms on the benchmark machine. The process keeps its peak instead.
    """
    name = ctypes.util.find_library("c")
    if not sys.platform.startswith("linux") or name is None:
        return
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: keep up to 1 GiB of freed heap
        libc.mallopt(-3, 1 << 25)  # M_MMAP_THRESHOLD: serve blocks up to 32 MiB from the heap
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


class _Progress:
    """A progress bar on stderr when it is a terminal; nothing otherwise."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.bar = None
        if enabled and sys.stderr.isatty():
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn("training"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} batches"),
                TextColumn("loss {task.fields[loss]}"),
                TimeRemainingColumn(),
                transient=True,
            )
            self.task = self.bar.add_task("train", total=total, loss="-")
            self.bar.start()

    def advance(self, loss: torch.Tensor) -> None:
        if self.bar is not None:
            self.bar.update(self.task, advance=1, loss=f"{loss.item():.4f}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _dense_adam(params: list[torch.nn.Parameter], hp: HyperParameters) -> torch.optim.Adam:
    """``torch.optim.Adam`` as one fused kernel where this PyTorch has it (CPU: 2.4+)."""
    try:
        return torch.optim.Adam(params, lr=hp.learning_rate, weight_decay=hp.weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=hp.learning_rate, weight_decay=hp.weight_decay)


def train_network(
    net: IPInsightsNet,
    train: PairTensors,
    hp: HyperParameters,
    *,
    generator: torch.Generator,
    sampling_generator: torch.Generator | None = None,
    validation: PairTensors | ValidationSet | None = None,
    callbacks: Sequence[EpochCallback] = (),
    log: TextIO | None = None,
    host: str = "algo-1",
    ipv6_share: float = 0.0,
    progress: bool = True,
    data_parallel: DataParallel | None = None,
) -> list[dict[str, float]]:
    """Train ``net`` in place for ``hp.epochs`` epochs (fewer if a callback stops it).

    Each step takes ``mini_batch_size`` observed pairs (reshuffled every epoch), adds
    R = ``random_negative_sampling_rate`` random-IP negatives, S =
    ``shuffled_negative_sampling_rate`` in-batch shuffled negatives and N =
    ``nearby_negative_sampling_rate`` nearby-network negatives per pair
    (:func:`~ipinsights.kernels.draw_candidates`), and minimises the binary cross-entropy with
    Adam (lazy, row-sparse Adam for the embedding tables). The kernel that computes the
    gradients (:func:`~ipinsights.kernels.choose_mix`: blocks, hand-derived or autograd) is
    logged once.

    Args:
        net: The model, already on the training device.
        train: Observed pairs on the same device.
        hp: Hyperparameters.
        generator: Randomness for shuffling (on the training device); with ``data_parallel``
            it must be seeded alike on every worker, so that all share each epoch's order.
        sampling_generator: Randomness for the negatives (default: ``generator``); each worker
            of a data-parallel run needs its own.
        validation: Pairs (or their :class:`ValidationSet`) for the ``validation:*`` metrics,
            computed after every epoch (by the first worker only when data-parallel).
        callbacks: Called after each epoch with (completed epochs, metrics); True stops.
        log: Where the metric lines go (``None``: nowhere; only the first worker writes).
        host: The ``host=`` field of the metric lines.
        ipv6_share: Share of random negatives drawn from IPv6 (see :func:`ipinsights.addresses.random_ips`).
        progress: Show a progress bar when stderr is a terminal.
        data_parallel: This process's place among data-parallel workers, or ``None``.

    Returns:
        One metrics dict per completed epoch.

    Raises:
        TrainingDivergedError: The loss became NaN or infinite (a FloatingPointError).
    """
    _keep_freed_memory()
    device = train.entity_rows.device
    sampler = sampling_generator if sampling_generator is not None else generator
    rank, world = (data_parallel.rank, data_parallel.world_size) if data_parallel else (0, 1)
    main = rank == 0
    sparse_opt = LazyAdam(net.sparse_parameters(), lr=hp.learning_rate, weight_decay=hp.weight_decay)
    dense_opt = _dense_adam(net.dense_parameters(), hp)
    params = [*net.sparse_parameters(), *net.dense_parameters()]
    ipv4_data = bool(is_ipv4(train.ip_hi, train.ip_lo).all())
    mix = choose_mix(
        net,
        hp.random_negative_sampling_rate,
        hp.shuffled_negative_sampling_rate,
        hp.nearby_negative_sampling_rate,
        ipv4_data=ipv4_data,
        ipv6_share=ipv6_share,
    )
    n, batch_size = len(train), hp.mini_batch_size
    num_batches = math.ceil(n / batch_size)

    def emit(*lines: str) -> None:
        if log is not None and main:
            for line in lines:
                print(line, file=log)
            log.flush()

    emit(f"[ipinsights] {mix.describe()}")
    validation_set: ValidationSet | None = None  # the first worker validates
    if main:
        if isinstance(validation, PairTensors):
            validation_set = ValidationSet.build(validation, train)
        else:
            validation_set = validation
    history: list[dict[str, float]] = []
    bar = _Progress(num_batches * hp.epochs, progress and main)
    try:
        for epoch in range(hp.epochs):
            net.train()
            started = time.perf_counter()
            order = torch.randperm(n, generator=generator, device=device)
            # Sums of (loss, correct scores) over the pairs of the epoch and of the batch-metrics
            # window, kept on the device so that a step never waits for a number.
            epoch_sums = torch.zeros(2, dtype=torch.float64, device=device)
            window_sums = torch.zeros(2, dtype=torch.float64, device=device)
            window_pairs = 0
            for b in range(num_batches):
                # This worker's share of global batch b (all of it when training alone).
                start, stop = b * batch_size, min((b + 1) * batch_size, n)
                idx = order[
                    start + (stop - start) * rank // world : start + (stop - start) * (rank + 1) // world
                ]
                size = len(idx)
                for p in params:
                    p.grad = None
                for part in split_batch(idx, mix):  # chunks of at most STEP_CHUNK pairs
                    m = len(part)
                    pairs = train.take(part)
                    candidates = draw_candidates(mix, pairs.entity_rows, pairs.ip_hi, pairs.ip_lo, sampler)
                    # The chunk's mean loss weighed by its share of the global batch, times the
                    # workers, whose gradients are averaged: the global batch's mean.
                    step = step_gradients(net, mix, candidates, weight=m * world / (stop - start))
                    for param, grad in step.grads.items():
                        param.grad = grad if param.grad is None else param.grad + grad
                    step_sums = torch.stack([step.loss.detach(), step.accuracy]) * m
                    epoch_sums += step_sums
                    window_sums += step_sums
                window_pairs += stop - start
                if data_parallel is not None:
                    data_parallel.reduce_gradients(net.sparse_parameters(), net.dense_parameters())
                sparse_opt.step()
                dense_opt.step()
                if size:
                    bar.advance(step.loss)  # the last chunk's
                if (b + 1) % hp.batch_metrics_publish_interval == 0:
                    window_loss, window_acc = _means(window_sums, window_pairs, data_parallel, hp, epoch, b)
                    emit(*batch_lines(host, epoch, b + 1, window_loss, window_acc))
                    window_sums.zero_()
                    window_pairs = 0
            epoch_loss, epoch_acc = _means(epoch_sums, n, data_parallel, hp, epoch, num_batches - 1)
            elapsed = time.perf_counter() - started
            metrics = {
                "train:binary_classification_cross_entropy:epoch": epoch_loss,
                "train:binary_classification_accuracy:epoch": epoch_acc,
                "train:throughput": n / elapsed,
            }
            emit(*epoch_lines(host, epoch, epoch_loss, epoch_acc))
            emit(throughput_line(host, metrics["train:throughput"]))
            stop_training = False
            if main:
                if validation_set is not None:
                    net.eval()
                    scores = validation_set.metrics(net)
                    metrics.update(scores)
                    emit(*(validation_line(host, epoch, name, value) for name, value in scores.items()))
                emit(progress_line(host, 100.0 * (epoch + 1) / hp.epochs))
                for callback in callbacks:
                    stop_training = bool(callback(epoch + 1, dict(metrics))) or stop_training
            history.append(metrics)
            if data_parallel is not None:
                stop_training = data_parallel.agree(stop_training)
            if stop_training:
                break
    finally:
        bar.close()
    net.eval()
    return history


def _means(
    sums: torch.Tensor,
    pairs: int,
    data_parallel: DataParallel | None,
    hp: HyperParameters,
    epoch: int,
    batch: int,
) -> tuple[float, float]:
    """(mean loss, accuracy) from (loss, correct) sums over ``pairs`` pairs of all workers.

    Raises:
        TrainingDivergedError: The loss is NaN or infinite (a FloatingPointError).
    """
    if data_parallel is not None:
        sums = data_parallel.sum(sums)
    loss_sum, correct = sums.tolist()
    if not math.isfinite(loss_sum):
        raise TrainingDivergedError(
            f"training diverged in epoch {epoch} (by batch {batch + 1}): the loss is {loss_sum}; "
            f"lower learning_rate (now {hp.learning_rate:g})"
        )
    return loss_sum / max(pairs, 1), correct / max(pairs, 1)
