"""One training step: a chunk's candidates, then its loss, accuracy and gradients.

The loop (:func:`ipinsights.train.train_network`) splits each batch with :func:`split_batch`,
draws each chunk's :class:`Candidates` with :func:`draw_candidates` and hands them to
:func:`step_gradients`, which runs the kernel that the run's
:class:`~ipinsights.sampling.NegativeMix` names (:func:`choose_mix` picks it once, from the data
and the network, and the loop logs it):

- :attr:`Kernel.BLOCKS <ipinsights.sampling.Kernel.BLOCKS>`: :func:`block_gradients`, negatives
  shared within blocks of consecutive pairs, every score a batched product;
- :attr:`Kernel.HAND_DERIVED <ipinsights.sampling.Kernel.HAND_DERIVED>`:
  :func:`hand_derived_gradients`, each pair's own candidates gathered and scattered;
- :attr:`Kernel.AUTOGRAD <ipinsights.sampling.Kernel.AUTOGRAD>`: :func:`candidate_scores`,
  :func:`~ipinsights.metrics.loss_and_accuracy` and autograd: any data, any depth.

The hand-derived kernels are autograd's numbers in about half the operations (tested equal to
it), for IPv4 addresses and at most one encoder layer only: they refuse a deeper network with a
``ValueError`` instead of returning wrong gradients.

**The training-time rewrite of the score.** :meth:`IPInsightsNet.score
<ipinsights.model.IPInsightsNet.score>` is ``<e, v>`` with ``v = W h + b`` the encoder's output.
A training step scores each entity against 1 + R + S + N addresses, and the step's addresses
outnumber its entities, so every kernel here applies the last layer to the entities instead:
``<e, W h + b> = <W^T e, h> + <e, b>``, the same scores up to float rounding for less work
(:func:`candidate_scores`), as nanoGPT's ``GPT.forward`` keeps its inference shortcut beside the
training loss. Scoring outside training (validation, the estimator, evaluation) uses
``net.score``.
"""

from __future__ import annotations

import math
from typing import NamedTuple, cast

import torch

from ipinsights.addresses import random_ips
from ipinsights.metrics import loss_and_accuracy
from ipinsights.model import IPFeatures, IPInsightsNet, ip_features, ipv4_features, rows_gradient
from ipinsights.sampling import Kernel, NegativeMix, nearby_ips, shuffled_indices

__all__ = [
    "HAND_DERIVED_RULE",
    "POOL_SHARE",
    "STEP_CHUNK",
    "Candidates",
    "Step",
    "block_gradients",
    "block_rows",
    "block_unit",
    "candidate_rows",
    "candidate_scores",
    "choose_mix",
    "draw_candidates",
    "hand_derived_gradients",
    "split_batch",
    "step_gradients",
]

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

#: What the hand-derived kernels cover; a network or data outside it needs :attr:`Kernel.AUTOGRAD`.
HAND_DERIVED_RULE = "at most one IP encoder layer; IPv4 addresses only"


def choose_mix(
    net: IPInsightsNet,
    num_random: int,
    num_shuffled: int,
    num_nearby: int,
    *,
    ipv4_data: bool,
    ipv6_share: float = 0.0,
) -> NegativeMix:
    """The fastest kernel that supports the network and the data, and the negatives it draws.

    Blocks for IPv4 addresses (data and negatives), at most one encoder layer and no nearby
    negatives (and a block unit that fits in :data:`STEP_CHUNK`); the hand-derived general
    kernel for the other IPv4 runs with at most one layer; autograd otherwise.

    Args:
        net: The model.
        num_random, num_shuffled, num_nearby: R, S and N per observed pair.
        ipv4_data: Every training address is IPv4.
        ipv6_share: Share of random negatives drawn from IPv6.
    """
    ipv4_only = ipv4_data and ipv6_share == 0
    if not ipv4_only or len(net.ip.layers) > 1:
        kernel = Kernel.AUTOGRAD
    elif num_nearby == 0 and block_unit(num_random, num_shuffled, POOL_SHARE) <= STEP_CHUNK:
        kernel = Kernel.BLOCKS
    else:
        kernel = Kernel.HAND_DERIVED
    return NegativeMix(
        num_random=num_random,
        num_shuffled=num_shuffled,
        num_nearby=num_nearby,
        kernel=kernel,
        ipv4_only=ipv4_only,
        ipv6_share=ipv6_share,
    )


def split_batch(idx: torch.Tensor, mix: NegativeMix) -> list[torch.Tensor]:
    """A batch's row indices in the chunks that are scored one at a time (none empty).

    At most :data:`STEP_CHUNK` pairs each, so that a chunk's temporaries stay in the CPU's
    caches; their gradients add up before the step's one update (the same mean gradient). With
    :attr:`Kernel.BLOCKS` chunks are multiples of :func:`block_unit`, and a remainder goes the
    hand-derived general way.
    """
    if mix.kernel is Kernel.BLOCKS:
        unit = block_unit(mix.num_random, mix.num_shuffled, POOL_SHARE)
        full = len(idx) // unit * unit
        parts = [*idx[:full].split(STEP_CHUNK // unit * unit), *([idx[full:]] if full < len(idx) else [])]
    else:
        parts = idx.split(STEP_CHUNK)
    # An empty tensor splits into one empty part (a batch shorter than the block unit, or a
    # worker's empty share of a short last batch): nothing to score.
    return [part for part in parts if len(part)]


class Candidates(NamedTuple):
    """A chunk's m observed pairs and every address they are scored against.

    Attributes:
        entity_rows: (m,) entity table rows of the observed pairs.
        ip_hi, ip_lo: (m + p,) address words: the m observed addresses, then the p drawn ones
            (the random pool, then N m nearby addresses).
        rows: (m, 1 + R + S + N) indices into the addresses, column 0 each pair's own
            (:func:`candidate_rows`); ``None`` in the block layout (:func:`block_rows`).
    """

    entity_rows: torch.Tensor
    ip_hi: torch.Tensor
    ip_lo: torch.Tensor
    rows: torch.Tensor | None


def draw_candidates(
    mix: NegativeMix,
    entity_rows: torch.Tensor,
    ip_hi: torch.Tensor,
    ip_lo: torch.Tensor,
    generator: torch.Generator,
) -> Candidates:
    """Draw the negatives of a chunk of observed pairs ((m,) rows and address words).

    With :attr:`Kernel.BLOCKS` and m a multiple of :func:`block_unit`, the block layout: a pool
    of m / :data:`POOL_SHARE` random addresses (none when R = 0). Otherwise a pool of m random
    addresses that :func:`candidate_rows` picks from, then, with N > 0, N nearby addresses per
    pair (:func:`~ipinsights.sampling.nearby_ips`): address ``2m + j m + i`` is column
    ``1 + R + S + j`` of pair ``i``. Draws in this order from ``generator``: pool, candidate
    rows, nearby addresses.
    """
    m, device = len(entity_rows), entity_rows.device
    R, S, N = mix.num_random, mix.num_shuffled, mix.num_nearby
    in_blocks = mix.kernel is Kernel.BLOCKS and m % block_unit(R, S, POOL_SHARE) == 0
    pool = (m // POOL_SHARE if R else 0) if in_blocks else m
    pool_hi, pool_lo = random_ips((pool,), generator, ipv6_share=mix.ipv6_share, device=device)
    if in_blocks:
        return Candidates(entity_rows, torch.cat([ip_hi, pool_hi]), torch.cat([ip_lo, pool_lo]), None)
    rows = candidate_rows(m, R, S, generator, device)  # (m, 1 + R + S)
    if N:
        near_hi, near_lo = nearby_ips(ip_hi.repeat(N), ip_lo.repeat(N), generator)
        pool_hi, pool_lo = torch.cat([pool_hi, near_hi]), torch.cat([pool_lo, near_lo])
        near_rows = 2 * m + torch.arange(N * m, device=device).view(N, m).t()  # (m, N)
        rows = torch.cat([rows, near_rows], dim=1)  # (m, 1 + R + S + N)
    return Candidates(entity_rows, torch.cat([ip_hi, pool_hi]), torch.cat([ip_lo, pool_lo]), rows)


class Step(NamedTuple):
    """One chunk's gradients (by parameter; a parameter the chunk does not reach is absent),
    and its mean loss and accuracy (0-d tensors)."""

    grads: dict[torch.Tensor, torch.Tensor]
    loss: torch.Tensor
    accuracy: torch.Tensor


def step_gradients(net: IPInsightsNet, mix: NegativeMix, candidates: Candidates, weight: float = 1.0) -> Step:
    """Loss, accuracy and gradients of one chunk, by the kernel ``mix`` names.

    Args:
        net: The model.
        mix: The run's negatives and kernel (:func:`choose_mix`).
        candidates: The chunk (:func:`draw_candidates` with the same ``mix``).
        weight: Factor on the chunk's mean loss in the gradients (its share of the global batch).

    Returns:
        :class:`Step`; the loss is the chunk's mean, unweighted.

    Raises:
        ValueError: The kernel does not support the network (the hand-derived kernels: at most
            one encoder layer) or the candidates are not in its layout.
    """
    if mix.kernel is Kernel.AUTOGRAD:
        if candidates.rows is None:
            raise ValueError("the autograd kernel needs candidate rows, got the block layout (rows=None)")
        scores = candidate_scores(
            net,
            net.embed_entities(candidates.entity_rows),  # (m, d)
            candidates.ip_hi,
            candidates.ip_lo,
            candidates.rows,
            ipv4_only=mix.ipv4_only,
        )  # (m, 1 + R + S + N)
        loss, accuracy = loss_and_accuracy(scores[:, 0], scores[:, 1:])
        params = list(net.parameters())
        # autograd.grad rather than backward(): .grad accumulation would drop the "coalesced"
        # flag of the tables' gradients (model.table_rows) and make the optimiser sort them again.
        grads = torch.autograd.grad(loss * weight if weight != 1 else loss, params, allow_unused=True)
        return Step({p: g for p, g in zip(params, grads, strict=True) if g is not None}, loss, accuracy)
    if candidates.rows is None:
        if mix.kernel is not Kernel.BLOCKS:
            raise ValueError(
                f"the {mix.kernel} kernel needs candidate rows, got the block layout (rows=None)"
            )
        return Step(
            *block_gradients(
                net,
                candidates.entity_rows,
                candidates.ip_lo,
                mix.num_random,
                mix.num_shuffled,
                weight,
                POOL_SHARE,
            )
        )
    return Step(
        *hand_derived_gradients(net, candidates.entity_rows, candidates.ip_lo, candidates.rows, weight)
    )


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
    """``scores[i, k] = <entity[i], ip vector of address rows[i, k]>``, (batch, k): the
    training-time form of :meth:`IPInsightsNet.score <ipinsights.model.IPInsightsNet.score>`.

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
    last = cast(torch.nn.Linear, net.ip.layers[-1])
    return _GatheredDots.apply(entity @ last.weight, hidden, rows) + (entity @ last.bias)[:, None]


class _Encoded(NamedTuple):
    """A chunk's forward pass up to the scores (see :func:`hand_derived_gradients`)."""

    features: IPFeatures
    hidden: torch.Tensor  # (2m, d): observed addresses, then random ones
    entity: torch.Tensor  # (m, d)
    u: torch.Tensor  # (m, d): W^T e, or e without an encoder layer
    c: torch.Tensor | None  # (m,): <e, b>, or None without an encoder layer


def _encode(net: IPInsightsNet, entity_rows: torch.Tensor, ip_lo: torch.Tensor) -> _Encoded:
    """Raises: ValueError: the network has more than one encoder layer (:data:`HAND_DERIVED_RULE`)."""
    enc = net.ip
    if len(enc.layers) > 1:
        # Their gradients treat the first layer as the last: silently wrong for a deeper encoder.
        raise ValueError(
            f"the hand-derived gradient kernels support {HAND_DERIVED_RULE}, got "
            f"num_ip_encoder_layers={len(enc.layers)}; use step_gradients with kernel "
            f"{Kernel.AUTOGRAD.name} (choose_mix picks it for such a network)"
        )
    features = ipv4_features(ip_lo, len(enc.tables))
    hidden = enc.hidden(features)  # (2m, d); no graph: callers run under no_grad
    entity = net.entity.index_select(0, entity_rows)  # (m, d)
    if not len(enc.layers):
        return _Encoded(features, hidden, entity, entity, None)
    last = cast(torch.nn.Linear, enc.layers[0])
    return _Encoded(features, hidden, entity, entity @ last.weight, entity @ last.bias)


def _parameter_gradients(
    net: IPInsightsNet,
    fwd: _Encoded,
    entity_rows: torch.Tensor,
    d_u: torch.Tensor,
    d_c: torch.Tensor | None,
    d_hidden: torch.Tensor,
) -> dict[torch.Tensor, torch.Tensor]:
    """Every parameter's gradient from those of ``u``, ``c`` and the hidden vectors."""
    enc = net.ip
    grads: dict[torch.Tensor, torch.Tensor] = {}
    if d_c is not None:  # one encoder layer (``fwd.c`` is None without one)
        last = cast(torch.nn.Linear, enc.layers[0])
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
) -> tuple[dict[torch.Tensor, torch.Tensor], torch.Tensor, torch.Tensor]:
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

    Raises:
        ValueError: The network has more than one encoder layer (:data:`HAND_DERIVED_RULE`).
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
) -> tuple[dict[torch.Tensor, torch.Tensor], torch.Tensor, torch.Tensor]:
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

    Raises:
        ValueError: The network has more than one encoder layer (:data:`HAND_DERIVED_RULE`), or
            the chunk is not a multiple of :func:`block_unit`.
    """
    unit = block_unit(num_random, num_shuffled, pool_share)
    if len(entity_rows) % unit:
        raise ValueError(
            f"block_gradients needs a multiple of block_unit(R={num_random}, S={num_shuffled}, "
            f"k={pool_share}) = {unit} pairs, got {len(entity_rows)}; score the remainder with "
            f"hand_derived_gradients"
        )
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
