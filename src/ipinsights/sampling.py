"""Negative sampling: the pairs the discriminator learns to tell apart from observed ones.

Both samplers are pure functions of their inputs and a ``torch.Generator``.
"""

from __future__ import annotations

import torch

from ipinsights.data import IPV4_MAPPED

__all__ = ["random_ips", "shuffled_indices"]

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
