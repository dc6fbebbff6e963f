"""The IP Insights network: a hashed entity table, a prefix-structured IP encoder, a dot product.

**IP encoder** (our design; the reference's is undocumented). An address is seen at up to four
prefix levels (``addresses.ENCODER_LEVELS``): for IPv4 /8, /16, /24 and /32; for IPv6 /32, /48, /56 and /64 (the ISP, the
site, the subnet block and the subnet; the lower 64 bits are the interface identifier, random
under privacy extensions, RFC 8981, so they carry no network identity). Each level used by the
design has its own embedding table; IPv4 /8 and /16 index their tables exactly, everything else
is hashed into a fixed number of buckets. A linear map of the address bits (32 for IPv4, the top
64 for IPv6) is added, which makes the representation of every IPv4 address unique and relates
numerically close addresses. The sum then goes through ``num_ip_encoder_layers`` fully connected
layers (ReLU between them, none after the last).

The default design uses the first two levels; ``docs/design.md`` compares it with deeper prefix
tables and with a bits-only MLP on validation AUC, attack AUC and speed.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

from ipinsights.addresses import ENCODER_LEVELS, is_ipv4

__all__ = [
    "DESIGNS",
    "LEVEL_BUCKETS",
    "IPEncoder",
    "IPFeatures",
    "IPInsightsNet",
    "PairScores",
    "available_memory_bytes",
    "check_training_memory",
    "ip_features",
    "ipv4_features",
    "rows_gradient",
    "table_rows",
    "training_memory_bytes",
]

#: Rows of the four prefix tables. IPv4 /8 and /16 fit exactly (256 and 65,536 rows).
LEVEL_BUCKETS = (1 << 12, 1 << 17, 1 << 17, 1 << 17)
_NUM_BITS = 32 + 64 + 1  # IPv4 bits, IPv6 top-64 bits, is-IPv6 flag
#: Per-level tag bits XORed into the IPv6 prefixes of the first three levels before hashing,
#: so that equal prefix values of different levels stay apart.
_V6_TAGS = (1 << 40, 1 << 49, 1 << 57)
# Odd 32-bit multipliers for multiplicative (Fibonacci) hashing, one per level.
_HASH_MULT = (0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D, 0x27D4EB2F)
_MASK32 = 0xFFFF_FFFF


class IPFeatures(NamedTuple):
    """What the encoder needs of a batch of addresses.

    Attributes:
        levels: (n, 4) int64 row index into each prefix table.
        bits: (n, 97) float32 in {-1, 0, 1}: IPv4 bits, IPv6 top-64 bits, IPv6 flag.
    """

    levels: torch.Tensor
    bits: torch.Tensor


def _hash32(x: torch.Tensor, level: int, buckets: int) -> torch.Tensor:
    """Multiplicative hash of non-negative int64 keys into ``[0, buckets)`` (a power of two)."""
    x = (x ^ (x >> 32)) & _MASK32
    shift = 32 - int(math.log2(buckets))
    return ((x * _HASH_MULT[level]) & _MASK32) >> shift


def _ipv4_prefixes(v4: torch.Tensor, num_levels: int = len(ENCODER_LEVELS)) -> list[torch.Tensor]:
    """Table rows of the first ``num_levels`` IPv4 prefixes: exact where the table has a row for
    every prefix (/8 and /16), hashed otherwise."""
    columns = []
    for k, level in enumerate(ENCODER_LEVELS[:num_levels]):
        prefix = v4 >> (32 - level.ipv4_bits)
        columns.append(
            prefix if 1 << level.ipv4_bits <= LEVEL_BUCKETS[k] else _hash32(prefix, k, LEVEL_BUCKETS[k])
        )
    return columns


# Each byte value's 8 bits, most significant first, as -1.0 / +1.0 (the sign features of the bits).
_BYTE_SIGNS = ((torch.arange(256)[:, None] >> torch.arange(7, -1, -1)) & 1).float() * 2 - 1  # (256, 8)


def ip_features(hi: torch.Tensor, lo: torch.Tensor) -> IPFeatures:
    """Prefix-table indices and bit features of addresses given as (hi, lo) int64 words.

    Args:
        hi, lo: (n,) int64, the 128-bit address (IPv4 as IPv4-mapped ``::ffff:a.b.c.d``).

    Returns:
        :class:`IPFeatures` with ``levels`` (n, 4) and ``bits`` (n, 97).
    """
    is_v4 = is_ipv4(hi, lo)
    v4 = lo & _MASK32
    # The IPv6 network prefixes of the first three levels (arithmetic shifts; the sign is harmless
    # for hashing) with their tag bits; the last level, /64, is the whole high word.
    v6 = [
        ((hi >> (64 - lv.ipv6_bits)) & ((1 << lv.ipv6_bits) - 1)) ^ tag
        for lv, tag in zip(ENCODER_LEVELS[:3], _V6_TAGS, strict=True)
    ]
    v6.append(hi ^ (hi >> 29))
    v4_prefixes = _ipv4_prefixes(v4)
    levels = torch.stack(
        [
            torch.where(is_v4, v4_prefixes[k], _hash32(v6[k], k, LEVEL_BUCKETS[k]))
            for k in range(len(ENCODER_LEVELS))
        ],
        dim=1,
    )  # (n, 4)
    # The bit features by table lookup per byte: one (n, 97) float tensor instead of a dozen
    # (n, 97) int64 temporaries (0.2 s instead of 1.5 s per million IPv4 addresses on one core).
    bits = torch.zeros(len(hi), _NUM_BITS, device=hi.device)  # (n, 97): ±1 where the family applies, else 0
    signs = _BYTE_SIGNS.to(hi.device)
    num_v4 = int(is_v4.sum())
    if num_v4:
        rows = slice(None) if num_v4 == len(hi) else is_v4.nonzero().squeeze(1)
        v4_bytes = torch.stack([(v4[rows] >> s) & 0xFF for s in (24, 16, 8, 0)], dim=1)  # (n4, 4)
        bits[rows, :32] = signs[v4_bytes].reshape(-1, 32)
    if num_v4 < len(hi):
        rows = slice(None) if num_v4 == 0 else (~is_v4).nonzero().squeeze(1)
        # The top 64 bits of IPv6 (the network part), byte by byte; & 0xFF clears the int64 sign.
        v6_bytes = torch.stack([(hi[rows] >> s) & 0xFF for s in range(56, -1, -8)], dim=1)  # (n6, 8)
        bits[rows, 32:96] = signs[v6_bytes].reshape(-1, 64)
        bits[rows, 96] = 1.0
    return IPFeatures(levels, bits)


def ipv4_features(lo: torch.Tensor, num_levels: int = 4) -> IPFeatures:
    """:func:`ip_features` of addresses the caller knows are all IPv4, for the first ``num_levels``.

    The same table indices as :func:`ip_features` and only the 32 IPv4 bit columns (the other
    65 are zeros for IPv4), which :meth:`IPEncoder.hidden` accepts: training on IPv4-only data
    (the common case) computes features in a fifth of the time and its bits map a third of it.

    Args:
        lo: (n,) int64 low words of IPv4-mapped addresses (``::ffff:a.b.c.d``).
        num_levels: How many prefix levels to index (the encoder's tables), 0-4.

    Returns:
        :class:`IPFeatures` with ``levels`` (n, num_levels) and ``bits`` (n, 32).
    """
    v4 = lo & _MASK32
    columns = _ipv4_prefixes(v4, num_levels)
    levels = torch.stack(columns, dim=1) if num_levels else v4.new_zeros(len(v4), 0)
    v4_bytes = torch.stack([(v4 >> s) & 0xFF for s in (24, 16, 8, 0)], dim=1)  # (n, 4)
    bits = _BYTE_SIGNS.to(lo.device).index_select(0, v4_bytes.view(-1)).view(-1, 32)  # (n, 32)
    return IPFeatures(levels, bits)


def rows_gradient(shape: torch.Size, rows: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """A table's gradient from its (n,) looked-up rows and their (n, d) gradient rows: one
    coalesced sparse row per distinct table row (a sort of the int64 indices and one
    ``index_add_``, where the optimiser would otherwise sort and sum one row per lookup)."""
    distinct, inverse = torch.unique(rows, return_inverse=True)
    values = grad.new_zeros(len(distinct), grad.shape[1]).index_add_(0, inverse, grad)
    return torch.sparse_coo_tensor(distinct[None], values, shape, is_coalesced=True, check_invariants=False)


class _TableRows(torch.autograd.Function):
    """``table[rows]`` with a gradient that is already coalesced (:func:`rows_gradient`).

    ``F.embedding(sparse=True)`` returns one gradient row per *lookup*, which the optimiser must
    coalesce (sort the rows, gather and add the values) for every table at every step.
    """

    @staticmethod
    def forward(ctx, table: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(rows)
        ctx.table_shape = table.shape
        return table.index_select(0, rows)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        (rows,) = ctx.saved_tensors
        return rows_gradient(ctx.table_shape, rows, grad), None


def table_rows(table: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """Rows of an embedding table, (n,) → (n, d), with a sparse, coalesced gradient in training."""
    if torch.is_grad_enabled() and table.requires_grad:
        return _TableRows.apply(table, rows)
    return nn.functional.embedding(rows, table)


#: Encoder designs: how many prefix levels get an embedding table (the bit features are always used).
DESIGNS = {"prefix": 2, "prefix24": 3, "prefix32": 4, "bits": 0}


class IPEncoder(nn.Module):
    """Address → ``vector_dim`` vector.

    ``design`` picks the prefix tables: ``"prefix"`` (default: IPv4 /8 and /16, IPv6 /32 and
    /48), ``"prefix24"`` (also IPv4 /24, IPv6 /56), ``"prefix32"`` (also IPv4 /32, IPv6 /64) or
    ``"bits"`` (none: a plain MLP on the address bits). The alternatives are kept for the design
    comparison in the docs.
    """

    def __init__(self, vector_dim: int, num_layers: int, *, design: str = "prefix") -> None:
        super().__init__()
        if design not in DESIGNS:
            raise ValueError(f"design must be one of {', '.join(DESIGNS)}, got {design!r}")
        self.design = design
        self.tables = nn.ParameterList(
            [nn.Parameter(torch.empty(b, vector_dim)) for b in LEVEL_BUCKETS[: DESIGNS[design]]]
        )
        self.bits = nn.Linear(_NUM_BITS, vector_dim)
        self.layers = nn.ModuleList([nn.Linear(vector_dim, vector_dim) for _ in range(num_layers)])
        self.reset_parameters()

    def reset_parameters(self) -> None:
        dim = self.bits.out_features
        for table in self.tables:
            nn.init.normal_(table, std=1.0 / math.sqrt(dim))
        nn.init.normal_(self.bits.weight, std=1.0 / math.sqrt(_NUM_BITS * dim))
        nn.init.zeros_(self.bits.bias)
        for layer in self.layers:
            assert isinstance(layer, nn.Linear)  # narrows ModuleList's Module for the type checker
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, features: IPFeatures) -> torch.Tensor:
        """(n,) addresses as :class:`IPFeatures` → (n, vector_dim) vectors."""
        x = self.hidden(features)
        return self.layers[-1](x) if len(self.layers) else x

    def hidden(self, features: IPFeatures) -> torch.Tensor:
        """The encoder up to the input of its last fully connected layer (all of it if none).

        Training needs the IP vectors ``v = W h + b`` only in dot products with entity vectors,
        ``<e, v> = <W^T e, h> + <e, b>``: it applies the last layer to the batch's entities
        instead of its twice as many addresses (``ipinsights.kernels``). Features of IPv4-only
        addresses (:func:`ipv4_features`, 32 bit columns) go through the first 32 columns of the
        bits map: the same values and gradients as the 97 columns with 65 zeros.
        """
        if features.bits.shape[1] == 32:
            x = torch.addmm(self.bits.bias, features.bits, self.bits.weight[:, :32].t())
        else:
            x = self.bits(features.bits)
        for level, table in enumerate(self.tables):
            x = x + table_rows(table, features.levels[:, level])
        for i, layer in enumerate(self.layers[:-1]):
            if i:
                x = torch.relu(x)
            x = layer(x)
        return torch.relu(x) if len(self.layers) > 1 else x


class PairScores(NamedTuple):
    """What :meth:`IPInsightsNet.score` returns for n pairs."""

    dot_product: torch.Tensor  # (n,)
    entity_vectors: torch.Tensor | None  # (n, vector_dim) when asked for, else None
    ip_vectors: torch.Tensor | None  # (n, vector_dim) when asked for, else None


class IPInsightsNet(nn.Module):
    """Entity table + IP encoder; :meth:`score` ``= <entity vector, ip vector>``.

    Args:
        num_entity_vectors: Rows of the hashed entity table.
        vector_dim: Size of both vectors.
        num_ip_encoder_layers: Fully connected layers ending the IP encoder.
        ip_encoder: ``"prefix"`` or ``"bits"`` (see :class:`IPEncoder`).
    """

    def __init__(
        self,
        num_entity_vectors: int,
        vector_dim: int,
        num_ip_encoder_layers: int,
        *,
        ip_encoder: str = "prefix",
    ) -> None:
        super().__init__()
        self.entity = nn.Parameter(torch.empty(num_entity_vectors, vector_dim))
        nn.init.normal_(self.entity, std=1.0 / math.sqrt(vector_dim))
        self.ip = IPEncoder(vector_dim, num_ip_encoder_layers, design=ip_encoder)

    def sparse_parameters(self) -> list[nn.Parameter]:
        """The embedding tables, whose gradients are sparse (rows touched by the batch only)."""
        return [self.entity, *self.ip.tables]

    def dense_parameters(self) -> list[nn.Parameter]:
        sparse = {id(p) for p in self.sparse_parameters()}
        return [p for p in self.parameters() if id(p) not in sparse]

    def embed_entities(self, rows: torch.Tensor) -> torch.Tensor:
        """(n,) int64 table rows → (n, vector_dim)."""
        return table_rows(self.entity, rows)

    def embed_ips(self, hi: torch.Tensor, lo: torch.Tensor) -> torch.Tensor:
        """(n,) address words → (n, vector_dim)."""
        return self.ip(ip_features(hi, lo))

    @torch.no_grad()
    def score(
        self,
        entity_rows: torch.Tensor,
        ip_hi: torch.Tensor,
        ip_lo: torch.Tensor,
        *,
        chunk: int = 65536,
        embeddings: bool = False,
    ) -> PairScores:
        """The score of each (entity, address) pair: ``<entity vector, ip vector>``.

        The one score of the model: training's validation, the estimator and evaluation all
        call it. Training itself computes the same numbers rewritten for speed (the last
        encoder layer applied to entities; ``ipinsights.kernels``).

        Args:
            entity_rows: (n,) int64 entity table rows, on the model's device.
            ip_hi, ip_lo: (n,) int64 address words (IPv4 as ``::ffff:a.b.c.d``), same device.
            chunk: Pairs encoded at once, to bound the temporaries' memory.
            embeddings: Also return the entity and IP vectors.

        Returns:
            :class:`PairScores`: (n,) float32 dot products, and with ``embeddings`` the
            (n, vector_dim) vectors, on the model's device.
        """
        n, dim = len(entity_rows), self.entity.shape[1]
        dot = self.entity.new_empty(n)  # (n,)
        entity_vectors = self.entity.new_empty(n, dim) if embeddings else None
        ip_vectors = self.entity.new_empty(n, dim) if embeddings else None
        for start in range(0, n, chunk):
            stop = min(start + chunk, n)
            e = self.embed_entities(entity_rows[start:stop])  # (chunk, dim)
            v = self.embed_ips(ip_hi[start:stop], ip_lo[start:stop])  # (chunk, dim)
            dot[start:stop] = (e * v).sum(dim=1)
            if entity_vectors is not None and ip_vectors is not None:
                entity_vectors[start:stop] = e
                ip_vectors[start:stop] = v
        return PairScores(dot, entity_vectors, ip_vectors)


def training_memory_bytes(
    num_entity_vectors: int,
    vector_dim: int,
    num_ip_encoder_layers: int,
    *,
    ip_encoder: str = "prefix",
    touched_entity_rows: int | None = None,
) -> int:
    """Bytes that training needs for the weights, their gradients and Adam moments (float32).

    The embedding tables dominate: each row's weights, and for every row training touches two
    Adam moments and a step count (:class:`~ipinsights.optim.LazyAdam`; on CPU untouched rows of
    the moments take no memory, so ``touched_entity_rows``, at most the distinct entities of the
    training data, bounds the entity table's share). Dense layers count four times (weights,
    gradient, two moments). Batches and the training data are not counted.

    Example:
        >>> training_memory_bytes(1000, 8, 1, ip_encoder="bits")  # 1,000 x 8 table, 97-bit map, one layer
        113696
    """
    table_rows = num_entity_vectors + sum(LEVEL_BUCKETS[: DESIGNS[ip_encoder]])
    entity_moment_rows = (
        num_entity_vectors if touched_entity_rows is None else min(num_entity_vectors, touched_entity_rows)
    )
    moment_rows = table_rows - num_entity_vectors + entity_moment_rows
    dense = (_NUM_BITS + 1) * vector_dim + num_ip_encoder_layers * (vector_dim + 1) * vector_dim
    return 4 * (table_rows * vector_dim + moment_rows * (2 * vector_dim + 1) + 4 * dense)


def available_memory_bytes(device: torch.device | str = "cpu") -> tuple[int, str] | None:
    """Memory free for a new allocation on ``device``, with where the figure comes from.

    CPU: ``MemAvailable`` of ``/proc/meminfo`` (what can be allocated without swapping), capped
    by a cgroup v2 ``memory.max`` (containers); elsewhere the free physical pages. CUDA: the
    device's free memory. ``None`` when unknown.
    """
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0]), f"free memory of {device}"
    found = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    found = (int(line.split()[1]) * 1024, "MemAvailable in /proc/meminfo")
    except (OSError, ValueError, IndexError):
        try:
            found = (os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"), "free physical memory")
        except (OSError, ValueError, AttributeError):
            found = None
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text())
        if limit.isdigit() and (found is None or int(limit) - used < found[0]):
            found = (max(0, int(limit) - used), "the cgroup's memory.max less memory.current")
    except (OSError, ValueError):
        pass
    return found


def check_training_memory(
    num_entity_vectors: int,
    vector_dim: int,
    num_ip_encoder_layers: int,
    *,
    ip_encoder: str,
    num_entities: int | None,
    device: torch.device | str,
) -> None:
    """Refuse, before allocating, a network whose training would not fit in memory.

    Raises:
        ConfigError: :func:`training_memory_bytes` exceeds :func:`available_memory_bytes`;
            the message names both figures and the fix.
    """
    lazy = torch.device(device).type == "cpu"
    need = training_memory_bytes(
        num_entity_vectors,
        vector_dim,
        num_ip_encoder_layers,
        ip_encoder=ip_encoder,
        touched_entity_rows=num_entities if lazy else None,
    )
    available = available_memory_bytes(device)
    if available is not None and need > available[0]:
        from ipinsights.errors import ConfigError

        raise ConfigError(
            f"training needs about {need / 1e9:,.1f} GB for the embedding tables and their Adam moments "
            f"(num_entity_vectors={num_entity_vectors}, vector_dim={vector_dim}), more than the "
            f"{available[0] / 1e9:,.1f} GB available ({available[1]}); lower num_entity_vectors "
            f"(about 2 x the distinct entities is enough) or vector_dim, or free memory"
        )
