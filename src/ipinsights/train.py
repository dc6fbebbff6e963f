"""The training loop: observed pairs against random-IP and shuffled negatives, one epoch at a time.

The loop knows nothing about IP addresses beyond handing their words to the model; it calls the
samplers, the model and the loss, logs the reference's metric lines and calls the callbacks.
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
from typing import TYPE_CHECKING, NamedTuple, TextIO

import torch

from ipinsights.config import HyperParameters
from ipinsights.metrics import (
    batch_lines,
    discriminator_auc,
    epoch_lines,
    loss_and_accuracy,
    progress_line,
    throughput_line,
    validation_line,
)
from ipinsights.model import IPFeatures, IPInsightsNet, ip_features, ipv4_features, rows_gradient
from ipinsights.optim import LazyAdam
from ipinsights.sampling import NegativeMix, nearby_ips, random_ips, shuffled_indices

if TYPE_CHECKING:  # pragma: no cover
    from ipinsights.distributed import DataParallel

__all__ = [
    "POOL_SHARE",
    "STEP_CHUNK",
    "VALIDATION_METRICS",
    "VALIDATION_SEED",
    "EpochCallback",
    "PairTensors",
    "ValidationSet",
    "block_gradients",
    "block_rows",
    "block_unit",
    "candidate_rows",
    "candidate_scores",
    "hand_derived_gradients",
    "train_network",
    "validation_auc",
]

#: Seed of the validation negatives: fixed, so that every run and every tuning trial on the
#: same validation data is measured against the same random addresses.
VALIDATION_SEED = 20181116

#: Most observed pairs scored at once; a larger ``mini_batch_size`` is scored in chunks of this
#: size whose gradients are added before the step's one update. At 2,048 pairs x 7 candidates x
#: 128 floats a chunk's temporaries (~7 MB) stay in cache: the large-batch benchmark setting
#: (10,000 pairs) ran at the small batch's speed per pair instead of ~15 % slower.
STEP_CHUNK = 2048

#: With block negatives, each random address is a negative of ``R * POOL_SHARE`` pairs (a step
#: draws ``mini_batch_size / POOL_SHARE`` of them); every pair still has R distinct, independent,
#: uniform random negatives. Measured at the example's settings (5 epochs, 3,000 users): 4 cuts
#: the encoding of random addresses and their table updates to a quarter, epochs ~20 % faster
#: than 1, validation AUC the same (0.9923 vs 0.9921; 8: 0.9923, no faster than 4).
POOL_SHARE = 4

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

    def to(self, device: torch.device | str) -> PairTensors:
        return PairTensors(self.entity_rows.to(device), self.ip_hi.to(device), self.ip_lo.to(device))


@torch.no_grad()
def score_pairs(net: IPInsightsNet, pairs: PairTensors, *, chunk: int = 65536) -> torch.Tensor:
    """Dot products of pairs, in chunks to bound memory; (n,) float32 on the pairs' device."""
    out = []
    for i in range(0, len(pairs), chunk):
        e = net.embed_entities(pairs.entity_rows[i : i + chunk])
        v = net.embed_ips(pairs.ip_hi[i : i + chunk], pairs.ip_lo[i : i + chunk])
        out.append((e * v).sum(dim=1))
    return torch.cat(out) if out else torch.zeros(0)


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
      never in a /16 (/48) this entity used in training.

    All drawn from :data:`VALIDATION_SEED`, so that every run and every tuning trial on the same
    data is measured on the same pairs. ``validation:detection_auc`` is the mean of the three
    AUCs: a configuration must separate all three kinds to score well on it.
    """

    pairs: PairTensors
    random: PairTensors
    other_users: PairTensors
    nearby: PairTensors

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
        for _ in range(20):
            clash = _member(_pair_keys(v_rows, t_hi[pick], t_lo[pick]), used)
            if not clash.any():
                break
            pick[clash] = torch.randint(len(t_rows), (int(clash.sum()),), generator=generator)
        other_users = PairTensors(v_rows, t_hi[pick], t_lo[pick])
        # Nearby networks the entity never used in training.
        used16 = _pair_keys(t_rows, *_network16(t_hi, t_lo)).unique()
        hi, lo = nearby_ips(v_hi, v_lo, generator)
        for _ in range(20):
            clash = _member(_pair_keys(v_rows, *_network16(hi, lo)), used16)
            if not clash.any():
                break
            new_hi, new_lo = nearby_ips(v_hi[clash], v_lo[clash], generator)
            hi[clash], lo[clash] = new_hi, new_lo
        nearby = PairTensors(v_rows, hi, lo)
        return cls(*(p.to(device) for p in (validation, random, other_users, nearby)))

    def metrics(self, net: IPInsightsNet) -> dict[str, float]:
        """The four ``validation:*`` metrics of :data:`VALIDATION_METRICS` (exact ROC AUCs)."""
        pos = score_pairs(net, self.pairs).cpu().numpy()
        out = {
            name: discriminator_auc(pos, score_pairs(net, negatives).cpu().numpy())
            for name, negatives in (
                ("validation:discriminator_auc", self.random),
                ("validation:other_users_auc", self.other_users),
                ("validation:nearby_auc", self.nearby),
            )
        }
        out["validation:detection_auc"] = sum(out.values()) / 3
        return out


def _pair_keys(rows: torch.Tensor, hi: torch.Tensor, lo: torch.Tensor) -> torch.Tensor:
    """One int64 key per (entity row, address): a multiplicative mix, collisions negligible."""
    return (rows * -7046029254386353131) ^ (hi * -4658895280553007687) ^ lo


def _network16(hi: torch.Tensor, lo: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Addresses cut to their /16 (IPv4) or /48 (IPv6)."""
    is_v4 = (hi == 0) & ((lo >> 32) == 0xFFFF)
    return torch.where(is_v4, hi, hi & ~0xFFFF), torch.where(is_v4, lo & ~0xFFFF, torch.zeros_like(lo))


def _member(keys: torch.Tensor, sorted_keys: torch.Tensor) -> torch.Tensor:
    """(n,) bool: each key is in ``sorted_keys`` (sorted, unique)."""
    if not len(sorted_keys):
        return torch.zeros(len(keys), dtype=torch.bool)
    at = torch.searchsorted(sorted_keys, keys).clamp_(max=len(sorted_keys) - 1)
    return sorted_keys[at] == keys


def candidate_rows(
    size: int, num_random: int, num_shuffled: int, generator: torch.Generator, device: torch.device
) -> torch.Tensor:
    """The addresses each observed pair is scored against, as rows of the step's encoded IPs.

    A step encodes ``2 * size`` addresses: rows ``[0, size)`` are the batch's observed IPs,
    rows ``[size, 2 * size)`` a pool of uniformly random ones. Pair ``i`` is scored against its
    own IP (row ``i``), ``num_random`` pool rows drawn uniformly with replacement (so each random
    negative is still uniform over the address space, but a step encodes 2x the batch instead of
    (1 + R)x) and ``num_shuffled`` observed rows from random permutations of the batch.

    Returns:
        (size, 1 + R + S) int64 row indices; column 0 is the positive.
    """
    own = torch.arange(size, device=device)[:, None]  # (size, 1)
    pool = torch.randint(size, 2 * size, (size, num_random), generator=generator, device=device)  # (size, R)
    shuffled = shuffled_indices(size, num_shuffled, generator, device)  # (size, S)
    return torch.cat([own, pool, shuffled], dim=1)


def _gathered_dots(entity: torch.Tensor, ips: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``scores[i, k] = <entity[i], ips[rows[i, k]]>``, (batch, k)."""
    candidates = ips.index_select(0, rows.view(-1)).view(*rows.shape, -1)  # (batch, k, d)
    return torch.linalg.vecdot(candidates, entity[:, None, :])


class _GatheredDots(torch.autograd.Function):
    """``scores[i, k] = <entity[i], ips[rows[i, k]]>`` with a backward that reads less memory.

    Autograd's backward of ``(entity[:, None] * ips[rows]).sum(-1)`` makes and reads two more
    (batch, k, d) tensors; here the entity gradient is one weighted ``embedding_bag`` over the
    rows (ips are small enough to stay in cache) and nothing of the forward is kept:
    2.6 ms instead of 3.6 ms forward + backward at the example's settings (1,000 x 7 x 128).
    """

    @staticmethod
    def forward(ctx, entity: torch.Tensor, ips: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(entity, ips, rows)
        return _gathered_dots(entity, ips, rows)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        entity, ips, rows = ctx.saved_tensors
        grad_entity = torch.nn.functional.embedding_bag(rows, ips, per_sample_weights=grad, mode="sum")
        weighted = (grad[:, :, None] * entity[:, None, :]).view(-1, entity.shape[1])  # (batch * k, d)
        grad_ips = torch.zeros_like(ips).index_add_(0, rows.view(-1), weighted)
        return grad_entity, grad_ips, None


def candidate_scores(
    net: IPInsightsNet,
    entity: torch.Tensor,
    ip_hi: torch.Tensor,
    ip_lo: torch.Tensor,
    rows: torch.Tensor,
    *,
    ipv4_only: bool = False,
) -> torch.Tensor:
    """``scores[i, k] = <entity[i], ip vector of address rows[i, k]>``, (batch, k).

    Args:
        net: The model.
        entity: (batch, d) entity vectors.
        ip_hi, ip_lo: (m,) words of the step's addresses.
        rows: (batch, k) indices into the addresses (see :func:`candidate_rows`).
        ipv4_only: Every address is IPv4 (:func:`~ipinsights.model.ipv4_features`: faster).

    The IP encoder ends in a linear layer ``v = W h + b`` (when it has one), and a score needs
    ``v`` only in ``<e, v> = <W^T e, h> + <e, b>``: moving ``W`` to the batch's entities instead
    of its twice as many addresses takes 1.8 of 8.3 ms off the encoder and scoring of a step at
    the example's settings (same scores up to float rounding).
    """
    features = ipv4_features(ip_lo, len(net.ip.tables)) if ipv4_only else ip_features(ip_hi, ip_lo)
    hidden = net.ip.hidden(features)  # (m, d)
    if not len(net.ip.layers):
        return _GatheredDots.apply(entity, hidden, rows)
    last = net.ip.layers[-1]
    return _GatheredDots.apply(entity @ last.weight, hidden, rows) + (entity @ last.bias)[:, None]


class _Encoded(NamedTuple):
    """A chunk's forward pass up to the scores (see :func:`hand_derived_gradients`)."""

    features: IPFeatures
    hidden: torch.Tensor  # (2m, d): observed addresses, then random ones
    entity: torch.Tensor  # (m, d)
    u: torch.Tensor  # (m, d): W^T e, or e without an encoder layer
    c: torch.Tensor | None  # (m,): <e, b>, or None without an encoder layer


def _encode(net: IPInsightsNet, entity_rows: torch.Tensor, ip_lo: torch.Tensor) -> _Encoded:
    enc = net.ip
    features = ipv4_features(ip_lo, len(enc.tables))
    hidden = enc.hidden(features)  # (2m, d); no graph: callers run under no_grad
    entity = net.entity.index_select(0, entity_rows)  # (m, d)
    if not len(enc.layers):
        return _Encoded(features, hidden, entity, entity, None)
    last = enc.layers[0]
    return _Encoded(features, hidden, entity, entity @ last.weight, entity @ last.bias)


def _parameter_gradients(
    net: IPInsightsNet,
    fwd: _Encoded,
    entity_rows: torch.Tensor,
    d_u: torch.Tensor,
    d_c: torch.Tensor | None,
    d_hidden: torch.Tensor,
) -> dict[torch.nn.Parameter, torch.Tensor]:
    """Every parameter's gradient from those of ``u``, ``c`` and the hidden vectors."""
    enc = net.ip
    grads: dict[torch.nn.Parameter, torch.Tensor] = {}
    if len(enc.layers):
        last = enc.layers[0]
        d_entity = torch.addmm(torch.outer(d_c, last.bias), d_u, last.weight.t())
        grads[last.weight] = fwd.entity.t() @ d_u
        grads[last.bias] = fwd.entity.t() @ d_c
    else:
        d_entity = d_u
    grads[net.entity] = rows_gradient(net.entity.shape, entity_rows, d_entity)
    for level, table in enumerate(enc.tables):
        grads[table] = rows_gradient(table.shape, fwd.features.levels[:, level], d_hidden)
    d_bits = torch.zeros_like(enc.bits.weight)
    d_bits[:, :32] = d_hidden.t() @ fwd.features.bits
    grads[enc.bits.weight] = d_bits
    grads[enc.bits.bias] = d_hidden.sum(dim=0)
    return grads


@torch.no_grad()
def hand_derived_gradients(
    net: IPInsightsNet,
    entity_rows: torch.Tensor,
    ip_lo: torch.Tensor,
    rows: torch.Tensor,
    weight: float,
) -> tuple[dict[torch.nn.Parameter, torch.Tensor], torch.Tensor, torch.Tensor]:
    """Loss, accuracy and gradients of one chunk of IPv4 pairs, derived by hand (no autograd).

    The same numbers as :func:`candidate_scores` + :func:`loss_and_accuracy` + autograd for a
    model with at most one encoder layer (tested against them), in about half the operations:
    autograd's bookkeeping (graph nodes, saved tensors, gradient accumulation and the sparse
    gradients of the tables, which it builds one row per lookup) is a large share of a step of
    small tensors on a CPU. With ``h`` the encoder's hidden vectors, ``u = W^T e`` and ``c = <e, b>``
    (the last layer ``W, b``; ``u = e``, ``c = 0`` without one), a score is ``<u, h[row]> + c``.

    Args:
        net: The model (at most one encoder layer).
        entity_rows: (m,) entity table rows of the chunk's observed pairs.
        ip_lo: (2m,) low words of the chunk's IPv4 addresses: observed, then random.
        rows: (m, k) candidate rows (:func:`candidate_rows`).
        weight: Factor on the chunk's mean loss (its share of the global batch).

    Returns:
        ``(gradients by parameter, loss, accuracy)``; loss and accuracy are the chunk's means.
    """
    fwd = _encode(net, entity_rows, ip_lo)
    scores = _gathered_dots(fwd.u, fwd.hidden, rows)  # (m, k)
    if fwd.c is not None:
        scores += fwd.c[:, None]
    labels = torch.zeros_like(scores)
    labels[:, 0] = 1.0
    loss = torch.nn.functional.binary_cross_entropy_with_logits(scores, labels)
    accuracy = ((scores > 0).float() == labels).float().mean()

    d_scores = torch.sigmoid(scores).sub_(labels).mul_(weight / scores.numel())  # (m, k)
    d_u = torch.nn.functional.embedding_bag(rows, fwd.hidden, per_sample_weights=d_scores, mode="sum")
    d_hidden = torch.zeros_like(fwd.hidden).index_add_(
        0, rows.view(-1), (d_scores[:, :, None] * fwd.u[:, None, :]).view(-1, fwd.u.shape[1])
    )  # (2m, d)
    d_c = d_scores.sum(dim=1) if fwd.c is not None else None
    return _parameter_gradients(net, fwd, entity_rows, d_u, d_c, d_hidden), loss, accuracy


def block_unit(num_random: int, num_shuffled: int, pool_share: int = 1) -> int:
    """Pairs per chunk of :func:`block_gradients` come in multiples of this: lcm(R k, S + 1)."""
    return math.lcm(max(num_random, 1) * pool_share, num_shuffled + 1)


def block_rows(size: int, num_random: int, num_shuffled: int, pool_share: int = 1) -> torch.Tensor:
    """The candidates of :func:`block_gradients` as :func:`candidate_rows` would give them.

    Pair ``i`` of a chunk of ``size`` pairs (a multiple of :func:`block_unit`) is scored
    against its own address, the ``R`` random addresses of its block of ``R k`` pairs (rows
    ``size + R * (i // (R k)) ...``, ``k = pool_share``) and the observed addresses of the ``S``
    other pairs of its block of ``S + 1`` pairs. Used to test the blocks against the general
    path; (size, 1 + R + S).
    """
    i = torch.arange(size)[:, None]
    block = max(num_random, 1) * pool_share
    random = size + (i // block) * num_random + torch.arange(num_random)  # (size, R)
    group = num_shuffled + 1
    others = (
        torch.arange(group)
        .expand(group, group)[~torch.eye(group, dtype=torch.bool)]
        .view(group, num_shuffled)
    )
    shuffled = (i // group) * group + others[i[:, 0] % group]  # (size, S)
    return torch.cat([i, random, shuffled], dim=1)


@torch.no_grad()
def block_gradients(
    net: IPInsightsNet,
    entity_rows: torch.Tensor,
    ip_lo: torch.Tensor,
    num_random: int,
    num_shuffled: int,
    weight: float,
    pool_share: int = 1,
) -> tuple[dict[torch.nn.Parameter, torch.Tensor], torch.Tensor, torch.Tensor]:
    """:func:`hand_derived_gradients` with the negatives drawn in blocks: batched products
    instead of gathers and scatters.

    The chunk's pairs are in random order (each epoch's shuffle), so consecutive pairs are a
    random sample of the batch. Pair ``i`` is scored against its own address; against the ``R``
    random addresses of its block of ``R`` consecutive pairs (the pool holds one uniformly random
    address per pair, so each pair still has ``R`` distinct, independent, uniform random
    negatives, each shared with ``R - 1`` other pairs, as a pool drawn with replacement shares
    them on average); and against the observed addresses of the ``S`` other pairs of its block of
    ``S + 1`` consecutive pairs (``S`` other pairs of the batch, uniformly at random, never its
    own: the reference's in-batch shuffle, without the chance of drawing itself). Every score is
    then a block matrix product (``bmm``): 1.8 of the 2.6 ms per step that gathering the
    (1,000 x 7 x 128) candidate vectors and scattering their gradients cost on the benchmark
    machine. Tested equal to the general path on the same candidates (:func:`block_rows`).

    Args:
        net: The model (at most one encoder layer).
        entity_rows: (m,) entity rows; m a multiple of :func:`block_unit` ``(R, S, k)``.
        ip_lo: (m + m / k,) low words of IPv4 addresses: the m observed, then m / k random
            ones (none when R = 0).
        num_random, num_shuffled: R and S.
        weight: Factor on the chunk's mean loss.
        pool_share: k: blocks of ``R k`` pairs share ``R`` random addresses, so that each
            random address is a negative of ``R k`` pairs (each pair still has R distinct,
            independent, uniform random negatives) and a step encodes ``m / k`` of them.

    Returns:
        ``(gradients by parameter, loss, accuracy)``.
    """
    fwd = _encode(net, entity_rows, ip_lo)
    m, d = fwd.u.shape
    R, G, B = num_random, num_shuffled + 1, num_random * pool_share
    observed, pool = fwd.hidden[:m], fwd.hidden[m:]
    total = m * (1 + R + num_shuffled)
    scale = weight / total

    pos = torch.linalg.vecdot(fwd.u, observed)  # (m,)
    if fwd.c is not None:
        pos += fwd.c
    loss_sum = torch.nn.functional.softplus(-pos).sum()
    correct = (pos > 0).sum()
    d_pos = torch.sigmoid(pos).sub_(1).mul_(scale)
    d_u = d_pos[:, None] * observed
    d_observed = d_pos[:, None] * fwd.u
    d_c = d_pos.clone()
    d_pool = torch.zeros_like(pool)
    if R:
        u_blocks, pool_blocks = fwd.u.view(m // B, B, d), pool.view(m // B, R, d)
        scores = torch.bmm(u_blocks, pool_blocks.transpose(1, 2))  # (m / B, B pairs, R addresses)
        if fwd.c is not None:
            scores += fwd.c.view(m // B, B, 1)
        loss_sum += torch.nn.functional.softplus(scores).sum()
        correct += (scores <= 0).sum()
        d_scores = torch.sigmoid(scores).mul_(scale)
        d_u += torch.bmm(d_scores, pool_blocks).view(m, d)
        d_pool = torch.bmm(d_scores.transpose(1, 2), u_blocks).view(-1, d)
        d_c += d_scores.sum(dim=2).view(m)
    if num_shuffled:
        u_blocks, observed_blocks = fwd.u.view(m // G, G, d), observed.view(m // G, G, d)
        scores = torch.bmm(u_blocks, observed_blocks.transpose(1, 2))  # (m / G, G pairs, G addresses)
        if fwd.c is not None:
            scores += fwd.c.view(m // G, G, 1)
        others = ~torch.eye(G, dtype=torch.bool, device=scores.device)  # the diagonal is each pair's own
        loss_sum += torch.nn.functional.softplus(scores).mul_(others).sum()
        correct += ((scores <= 0) & others).sum()
        d_scores = torch.sigmoid(scores).mul_(others).mul_(scale)
        d_u += torch.bmm(d_scores, observed_blocks).view(m, d)
        d_observed += torch.bmm(d_scores.transpose(1, 2), u_blocks).view(m, d)
        d_c += d_scores.sum(dim=2).view(m)
    d_hidden = torch.cat([d_observed, d_pool])
    grads = _parameter_gradients(net, fwd, entity_rows, d_u, d_c if fwd.c is not None else None, d_hidden)
    return grads, loss_sum / total, correct / total


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
    R = ``random_negative_sampling_rate`` random-IP negatives and S =
    ``shuffled_negative_sampling_rate`` in-batch shuffled negatives per pair (see
    :func:`candidate_rows`), and minimises the binary cross-entropy with Adam (lazy, row-sparse
    Adam for the embedding tables).

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
        ipv6_share: Share of random negatives drawn from IPv6 (see :func:`random_ips`).
        progress: Show a progress bar when stderr is a terminal.
        data_parallel: This process's place among data-parallel workers, or ``None``.

    Returns:
        One metrics dict per completed epoch.

    Raises:
        FloatingPointError: The loss became NaN or infinite.
    """
    _keep_freed_memory()
    device = train.entity_rows.device
    sampler = sampling_generator if sampling_generator is not None else generator
    rank, world = (data_parallel.rank, data_parallel.world_size) if data_parallel else (0, 1)
    main = rank == 0
    sparse_opt = LazyAdam(net.sparse_parameters(), lr=hp.learning_rate, weight_decay=hp.weight_decay)
    dense_opt = _dense_adam(net.dense_parameters(), hp)
    params = [*net.sparse_parameters(), *net.dense_parameters()]
    # No IPv6 anywhere in a step (observed or random negative): IPv4-only features are enough.
    ipv4_only = ipv6_share == 0 and not bool(((train.ip_hi != 0) | ((train.ip_lo >> 32) != 0xFFFF)).any())
    # The hand-derived gradients cover IPv4 data and at most one encoder layer (the default).
    hand_derived = ipv4_only and len(net.ip.layers) <= 1
    R, S, N = hp.random_negative_sampling_rate, hp.shuffled_negative_sampling_rate, hp.nearby_negative_sampling_rate
    unit = block_unit(R, S, POOL_SHARE)
    block_chunk = STEP_CHUNK // unit * unit
    blocked = hand_derived and block_chunk > 0 and N == 0
    mix = NegativeMix(R, S, N, blocked)
    n, batch_size = len(train), hp.mini_batch_size
    num_batches = math.ceil(n / batch_size)

    def emit(*lines: str) -> None:
        if log is not None and main:
            for line in lines:
                print(line, file=log)
            log.flush()

    emit(f"[ipinsights] {mix.describe()}")
    if isinstance(validation, ValidationSet) or validation is None or not main:
        validation_set = validation if main else None
    else:
        validation_set = ValidationSet.build(validation, train)
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
                # A large batch is scored in chunks whose gradients add up before the one
                # update of the step: the same mean gradient, with each chunk's temporaries
                # small enough to stay in the CPU's caches (STEP_CHUNK). With block negatives,
                # chunks are multiples of the block unit; a remainder goes the general way.
                if blocked:
                    full = size // unit * unit
                    parts = [*idx[:full].split(block_chunk), *([idx[full:]] if full < size else [])]
                else:
                    parts = idx.split(STEP_CHUNK)
                # An empty tensor splits into one empty part (a batch shorter than the block
                # unit, or a worker's empty share of a short last batch): nothing to score.
                parts = [part for part in parts if len(part)]
                for part in parts:
                    m = len(part)
                    in_blocks = blocked and m % unit == 0
                    pool = (m // POOL_SHARE if R else 0) if in_blocks else m  # random addresses
                    pool_hi, pool_lo = random_ips((pool,), sampler, ipv6_share=ipv6_share, device=device)
                    rows = None if in_blocks else candidate_rows(m, R, S, sampler, device)  # (m, 1 + R + S)
                    if N:  # nearby addresses after the pool: rows [2m, 2m + N m), column j of pair i at 2m + j m + i
                        near_hi, near_lo = nearby_ips(train.ip_hi[part].repeat(N), train.ip_lo[part].repeat(N), sampler)
                        pool_hi, pool_lo = torch.cat([pool_hi, near_hi]), torch.cat([pool_lo, near_lo])
                        near_rows = 2 * m + torch.arange(N * m, device=device).view(N, m).t()  # (m, N)
                        rows = torch.cat([rows, near_rows], dim=1)  # (m, 1 + R + S + N)
                    # The chunk's mean loss weighed by its share of the global batch, times the
                    # workers, whose gradients are averaged: the global batch's mean.
                    share = m * world / (stop - start)
                    if hand_derived:  # in_blocks implies it
                        entity_rows = train.entity_rows.index_select(0, part)
                        ip_lo = torch.cat([train.ip_lo.index_select(0, part), pool_lo])
                        grad_of, loss, accuracy = (
                            block_gradients(net, entity_rows, ip_lo, R, S, share, POOL_SHARE)
                            if in_blocks
                            else hand_derived_gradients(net, entity_rows, ip_lo, rows, share)
                        )
                        grads = [grad_of.get(p) for p in params]
                    else:
                        scores = candidate_scores(
                            net,
                            net.embed_entities(train.entity_rows[part]),  # (m, d)
                            torch.cat([train.ip_hi[part], pool_hi]),
                            torch.cat([train.ip_lo[part], pool_lo]),
                            rows,
                            ipv4_only=ipv4_only,
                        )  # (m, 1 + R + S); the addresses: observed, then the random pool
                        loss, accuracy = loss_and_accuracy(scores[:, 0], scores[:, 1:])
                        # autograd.grad rather than backward(): .grad accumulation would drop the
                        # "coalesced" flag of the tables' gradients (model.table_rows) and make
                        # the optimiser sort them again.
                        grads = torch.autograd.grad(
                            loss * share if share != 1 else loss, params, allow_unused=True
                        )
                    for p, grad in zip(params, grads, strict=True):
                        if grad is not None:
                            p.grad = grad if p.grad is None else p.grad + grad
                    step_sums = torch.stack([loss.detach(), accuracy]) * m
                    epoch_sums += step_sums
                    window_sums += step_sums
                window_pairs += stop - start
                if data_parallel is not None:
                    data_parallel.reduce_gradients(net.sparse_parameters(), net.dense_parameters())
                sparse_opt.step()
                dense_opt.step()
                if size:
                    bar.advance(loss)  # the last chunk's
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
        FloatingPointError: The loss is NaN or infinite.
    """
    if data_parallel is not None:
        sums = data_parallel.sum(sums)
    loss_sum, correct = sums.tolist()
    if not math.isfinite(loss_sum):
        raise FloatingPointError(
            f"training diverged in epoch {epoch} (by batch {batch + 1}): the loss is {loss_sum}; "
            f"lower learning_rate (now {hp.learning_rate:g})"
        )
    return loss_sum / max(pairs, 1), correct / max(pairs, 1)
