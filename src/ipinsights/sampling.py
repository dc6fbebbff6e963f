"""Negative sampling: the pairs the discriminator learns to tell apart from observed ones.

Three kinds of negative, each a pure function of its inputs and a ``torch.Generator``:

- **random** (:func:`ipinsights.addresses.random_ips`): a uniformly random address, the reference's
  ``random_negative_sampling_rate``; easy, mostly far from anyone's networks.
- **shuffled** (:func:`shuffled_indices`): another observed pair's address from the same batch,
  the reference's ``shuffled_negative_sampling_rate``; busy, real addresses.
- **nearby** (:func:`nearby_ips`): an address in a network next to the pair's own (another /16
  of the same /8; IPv6: another /48 of the same /32), our ``nearby_negative_sampling_rate``. It
  teaches the model the *scale* of an entity's neighbourhood, which random negatives cannot:
  without it the encoder rewards mere proximity, and an attacker next door to the victim's
  networks scores as normal (``docs/design.md``, detection).

:class:`NegativeMix` names the mix a training run uses and the :class:`Kernel` that draws it
(``ipinsights.kernels.choose_mix`` picks it from the data and the network); the loop logs it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import torch

from ipinsights.addresses import IPV4_MAPPED, is_ipv4

__all__ = ["NEARBY_MAX_SHIFT", "Kernel", "NegativeMix", "nearby_ips", "populated_ips", "shuffled_indices"]


def shuffled_indices(
    batch: int, rate: int, generator: torch.Generator, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """In-batch shuffled negatives: for each of ``rate`` rounds, a random permutation of the batch.

    Pair ``i`` of round ``s`` is (entity ``i``, IP of pair ``perm_s[i]``). As in the reference, a
    shuffled pair may by chance be an observed one; with realistic batch sizes that is rare.

    Returns:
        (batch, rate) int64 indices into the batch.
    """
    if rate == 0:
        return torch.empty(batch, 0, dtype=torch.int64, device=device)
    perms = [torch.randperm(batch, generator=generator, device=device) for _ in range(rate)]
    return torch.stack(perms, dim=1)  # (batch, S)


#: Nearby negatives move an address's /16 (IPv6: /48) by 1 to this many networks, either way,
#: inside its /8 (IPv6: /32).
NEARBY_MAX_SHIFT = 16

_MASK32 = 0xFFFF_FFFF


#: The field a nearby negative moves, by the network it lands in: (bit offset of the IPv4 octet,
#: bit offset of the IPv6 16-bit group in the high word). ``"16"``: the /16 inside its /8 (IPv6:
#: the /48 inside its /32); ``"24"``: the /24 inside its /16 (IPv6: the /64 inside its /48).
_MOVED_FIELD = {"16": (16, 16), "24": (8, 0)}


def nearby_ips(
    hi: torch.Tensor,
    lo: torch.Tensor,
    generator: torch.Generator,
    *,
    max_shift: int = NEARBY_MAX_SHIFT,
    level: str = "16",
) -> tuple[torch.Tensor, torch.Tensor]:
    """An address in a network next to each given one: its /16 (or /24) moved by ±1..``max_shift``.

    ``level="16"``: IPv4 ``a.b.c.d`` becomes ``a.b'.x.y`` with ``b' = (b ± k) mod 256`` (so the
    same /8), ``k`` uniform in ``1..max_shift``, the sign fair and ``x.y`` uniform; IPv6: the /48
    (the third 16-bit group) moves the same way inside its /32 and the rest of the address is
    uniform. ``level="24"``: one step finer, ``a.b.c'.y`` inside the same /16 (IPv6: the /64,
    the fourth group, inside its /48).

    Args:
        hi, lo: (n,) int64 words of the addresses (IPv4-mapped for IPv4).
        generator: Source of randomness (its device is used).
        max_shift: Largest move, in networks, 1..255.
        level: ``"16"`` or ``"24"``, the network that moves.

    Returns:
        ``(hi, lo)`` of ``n`` nearby addresses, never in the same network as the given one.
    """
    v4_bit, v6_bit = _MOVED_FIELD[level]
    n, device = len(hi), hi.device
    shift = torch.randint(1, max_shift + 1, (n,), generator=generator, device=device)
    shift = torch.where(torch.rand(n, generator=generator, device=device) < 0.5, shift, -shift)
    is_v4 = is_ipv4(hi, lo)
    v4 = lo & _MASK32
    field = (((v4 >> v4_bit) & 0xFF) + shift) % 256
    rest = torch.randint(0, 1 << v4_bit, (n,), generator=generator, device=device)
    new_v4 = IPV4_MAPPED | (v4 & (_MASK32 & ~((1 << (v4_bit + 8)) - 1))) | (field << v4_bit) | rest
    group = (((hi >> v6_bit) & 0xFFFF) + shift) % (1 << 16)
    new_hi = (hi & ~((1 << (v6_bit + 16)) - 1)) | (group << v6_bit)
    if v6_bit:
        new_hi |= torch.randint(0, 1 << v6_bit, (n,), generator=generator, device=device)
    new_lo = torch.randint(-(1 << 63), (1 << 63) - 1, (n,), generator=generator, device=device)
    return torch.where(is_v4, hi, new_hi), torch.where(is_v4, new_v4, new_lo)


def populated_ips(
    networks_hi: torch.Tensor, networks_lo: torch.Tensor, n: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Addresses in networks someone uses: a /16 (IPv6: /48) drawn uniformly from the given ones
    (their network addresses, distinct), the rest of the address uniform.

    Routed, inhabited space without a range table: between a uniformly random address (mostly
    unrouted) and another user's exact address.
    """
    device = networks_hi.device
    pick = torch.randint(len(networks_hi), (n,), generator=generator, device=device)
    hi, lo = networks_hi[pick], networks_lo[pick]
    is_v4 = is_ipv4(hi, lo)
    host16 = torch.randint(0, 1 << 16, (n,), generator=generator, device=device)
    tail = torch.randint(-(1 << 63), (1 << 63) - 1, (n,), generator=generator, device=device)
    return torch.where(is_v4, hi, hi | host16), torch.where(is_v4, lo | host16, tail)


class Kernel(StrEnum):
    """How a training step draws its negatives and computes its gradients (``ipinsights.kernels``).

    - ``BLOCKS``: random and shuffled negatives shared within blocks of consecutive pairs and
      scored with batched products, gradients derived by hand: the fastest; IPv4 data, at most
      one encoder layer, no nearby negatives.
    - ``HAND_DERIVED``: every pair's own candidates gathered and scattered, gradients derived by
      hand: IPv4 data, at most one encoder layer (also the blocks' remainder chunks).
    - ``AUTOGRAD``: the same candidates, gradients by autograd: any data, any depth.

    All three draw from the same distributions and give the same gradients on the same
    candidates (tested against autograd).
    """

    BLOCKS = "blocks"
    HAND_DERIVED = "hand-derived"
    AUTOGRAD = "autograd"


@dataclass(frozen=True, kw_only=True)
class NegativeMix:
    """The negatives each observed pair is scored against in training, and the kernel that draws them.

    Attributes:
        num_random: R, uniformly random addresses per pair.
        num_shuffled: S, other observed pairs' addresses from the same batch.
        num_nearby: N, addresses in networks next to the pair's own.
        kernel: The :class:`Kernel` of the steps.
        ipv4_only: Every address a step scores is IPv4 (the data's and the negatives'): the
            encoder can use IPv4-only features; required by the hand-derived kernels.
        ipv6_share: Share of the random negatives drawn from IPv6 (see :func:`ipinsights.addresses.random_ips`).

    Raises:
        ValueError: A count is negative, or the kernel does not support the mix (block
            kernels draw no nearby negatives; hand-derived kernels need ``ipv4_only``).
    """

    num_random: int
    num_shuffled: int
    num_nearby: int
    kernel: Kernel
    ipv4_only: bool = False
    ipv6_share: float = 0.0

    def __post_init__(self) -> None:
        for name in ("num_random", "num_shuffled", "num_nearby"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {name}={getattr(self, name)}")
        if self.kernel is Kernel.BLOCKS and self.num_nearby:
            raise ValueError(
                f"the block kernels draw no nearby negatives, got num_nearby={self.num_nearby}; "
                f"use kernel={Kernel.HAND_DERIVED.name} or {Kernel.AUTOGRAD.name}"
            )
        if self.kernel is not Kernel.AUTOGRAD and not (self.ipv4_only and self.ipv6_share == 0):
            raise ValueError(
                f"the {self.kernel} kernel scores IPv4 addresses only, got ipv4_only={self.ipv4_only}, "
                f"ipv6_share={self.ipv6_share}; use kernel={Kernel.AUTOGRAD.name} for IPv6"
            )

    def describe(self) -> str:
        """The line the training loop logs once, e.g. ``... 5 random, 1 shuffled, 0 nearby (blocks kernel)``."""
        return (
            f"negatives per observed pair: {self.num_random} random, {self.num_shuffled} shuffled, "
            f"{self.num_nearby} nearby ({self.kernel} kernel)"
        )
