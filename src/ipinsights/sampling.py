"""Negative sampling: the pairs the discriminator learns to tell apart from observed ones.

Three kinds of negative, each a pure function of its inputs and a ``torch.Generator``:

- **random** (:func:`random_ips`): a uniformly random address, the reference's
  ``random_negative_sampling_rate``; easy, mostly far from anyone's networks.
- **shuffled** (:func:`shuffled_indices`): another observed pair's address from the same batch,
  the reference's ``shuffled_negative_sampling_rate``; busy, real addresses.
- **nearby** (:func:`nearby_ips`): an address in a network next to the pair's own (another /16
  of the same /8; IPv6: another /48 of the same /32), our ``nearby_negative_sampling_rate``. It
  teaches the model the *scale* of an entity's neighbourhood, which random negatives cannot:
  without it the encoder rewards mere proximity, and an attacker next door to the victim's
  networks scores as normal (``docs/design.md``, detection).

:class:`NegativeMix` names the mix a training run uses; the loop logs it once.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from ipinsights.data import IPV4_MAPPED

__all__ = ["NEARBY_MAX_SHIFT", "NegativeMix", "nearby_ips", "random_ips", "shuffled_indices"]

_GLOBAL_UNICAST_TOP = 0x2 << 60  # 2000::/3, the IPv6 global unicast space
_TOP61 = (1 << 61) - 1


def random_ips(
    shape: tuple[int, ...],
    generator: torch.Generator,
    *,
    ipv6_share: float = 0.0,
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Uniformly random addresses, as (hi, lo) int64 words of ``shape`` each.

    IPv4: every octet uniform in 0..255 (the reference's random negatives). With
    ``ipv6_share > 0`` that share of the draws is instead uniform in the IPv6 global unicast
    space 2000::/3, so that a model trained on IPv6 rows also sees IPv6 negatives.

    Args:
        shape: Output shape, e.g. ``(batch, R)``.
        generator: Source of randomness (its device is used).
        ipv6_share: Probability that a draw is IPv6, in [0, 1].
        device: Where to create the tensors.

    Returns:
        ``(hi, lo)``, two int64 tensors of ``shape``.
    """
    lo = torch.randint(0, 1 << 32, shape, generator=generator, device=device) | IPV4_MAPPED
    hi = torch.zeros(shape, dtype=torch.int64, device=device)
    if ipv6_share > 0:
        is_v6 = torch.rand(shape, generator=generator, device=device) < ipv6_share
        top = torch.randint(0, _TOP61, shape, generator=generator, device=device) | _GLOBAL_UNICAST_TOP
        low = torch.randint(-(1 << 63), (1 << 63) - 1, shape, generator=generator, device=device)
        hi = torch.where(is_v6, top, hi)
        lo = torch.where(is_v6, low, lo)
    return hi, lo


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


def nearby_ips(
    hi: torch.Tensor, lo: torch.Tensor, generator: torch.Generator, *, max_shift: int = NEARBY_MAX_SHIFT
) -> tuple[torch.Tensor, torch.Tensor]:
    """An address in a network next to each given one: its /16 moved by ±1..``max_shift``.

    IPv4 ``a.b.c.d`` becomes ``a.b'.x.y`` with ``b' = (b ± k) mod 256`` (so the same /8), ``k``
    uniform in ``1..max_shift``, the sign fair and ``x.y`` uniform. IPv6: the /48 (the third
    16-bit group) moves the same way inside its /32 and the rest of the address is uniform.

    Args:
        hi, lo: (n,) int64 words of the addresses (IPv4-mapped for IPv4).
        generator: Source of randomness (its device is used).
        max_shift: Largest move, in networks, 1..255.

    Returns:
        ``(hi, lo)`` of ``n`` nearby addresses, never in the same /16 (/48) as the given one.
    """
    n, device = len(hi), hi.device
    shift = torch.randint(1, max_shift + 1, (n,), generator=generator, device=device)
    shift = torch.where(torch.rand(n, generator=generator, device=device) < 0.5, shift, -shift)
    is_v4 = (hi == 0) & ((lo >> 32) == (IPV4_MAPPED >> 32))
    v4 = lo & _MASK32
    second = (((v4 >> 16) & 0xFF) + shift) % 256
    low16 = torch.randint(0, 1 << 16, (n,), generator=generator, device=device)
    new_v4 = IPV4_MAPPED | (v4 & 0xFF00_0000) | (second << 16) | low16
    group = (((hi >> 16) & 0xFFFF) + shift) % (1 << 16)
    tail = torch.randint(0, 1 << 16, (n,), generator=generator, device=device)
    new_hi = (hi & ~0xFFFF_FFFF) | (group << 16) | tail
    new_lo = torch.randint(-(1 << 63), (1 << 63) - 1, (n,), generator=generator, device=device)
    return torch.where(is_v4, hi, new_hi), torch.where(is_v4, new_v4, new_lo)


class NegativeMix(NamedTuple):
    """The negatives each observed pair is scored against in training: R random, S shuffled, N nearby.

    ``blocks`` says whether the batched "block" kernels draw them (IPv4 data, at most one encoder
    layer, no nearby negatives; ``ipinsights.train``): the same distributions, shared draws.
    """

    num_random: int
    num_shuffled: int
    num_nearby: int
    blocks: bool

    def describe(self) -> str:
        kernel = "block kernels" if self.blocks else "general kernel"
        return (
            f"negatives per observed pair: {self.num_random} random, {self.num_shuffled} shuffled, "
            f"{self.num_nearby} nearby ({kernel})"
        )
