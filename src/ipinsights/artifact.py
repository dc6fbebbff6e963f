"""The model artifact: what scoring needs, with provenance, in a format that cannot run code.

``model_dir/`` holds

* ``model.safetensors``: the network weights and the sorted 64-bit hashes of the entities seen
  in training (to tell known from unknown entities);
* ``model.json``: format version, hyperparameters, IP encoder design, the entity hash scheme,
  package / torch / numpy / Python versions, training-data summary, final metrics and history,
  and the SHA-256 of the weights file (so a damaged or swapped file is caught on load).

Loading checks each of these and says what is wrong.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ipinsights.config import HyperParameters
from ipinsights.errors import ArtifactError, ConfigError
from ipinsights.model import LEVEL_BUCKETS, IPInsightsNet

__all__ = ["FORMAT", "FORMAT_VERSION", "Artifact", "load_artifact", "save_artifact"]

FORMAT = "ipinsights-model"
FORMAT_VERSION = 1
WEIGHTS = "model.safetensors"
META = "model.json"
_KNOWN = "known_entity_hashes"

HASH_SCHEME = {
    "entity": "FNV-1a 64-bit over the UTF-8 bytes of the entity with surrounding whitespace removed",
    "entity_row": "hash mod num_entity_vectors",
    "ip_levels_ipv4": [8, 16, 24, 32],
    "ip_levels_ipv6": [16, 32, 48, 64],
    "ip_level_buckets": list(LEVEL_BUCKETS),
}


@dataclass
class Artifact:
    """A loaded model: the network, the known-entity hashes and the metadata."""

    net: IPInsightsNet
    known_entity_hashes: np.ndarray
    meta: dict[str, Any]

    @property
    def hyperparameters(self) -> HyperParameters:
        return HyperParameters.from_mapping(self.meta["hyperparameters"])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _versions() -> dict[str, str]:
    from ipinsights import __version__

    return {
        "ipinsights": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def save_artifact(
    model_dir: str | os.PathLike[str],
    net: IPInsightsNet,
    known_entity_hashes: np.ndarray,
    *,
    hyperparameters: HyperParameters,
    ip_encoder: str,
    extra: dict[str, Any],
) -> Path:
    """Write ``model.safetensors`` and ``model.json`` into ``model_dir`` (created if needed).

    Both files are written to temporary names and renamed into place, so a crash never leaves
    a half-written artifact that looks complete.
    """
    out = Path(model_dir)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in net.state_dict().items()}
    tensors[_KNOWN] = torch.from_numpy(
        np.ascontiguousarray(known_entity_hashes, dtype=np.uint64).view(np.int64)
    )
    fd, tmp_weights = tempfile.mkstemp(dir=out, prefix=".model.", suffix=".tmp")
    os.close(fd)
    save_file(tensors, tmp_weights)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "hyperparameters": hyperparameters.to_dict(),
        "ip_encoder": ip_encoder,
        "hash_scheme": HASH_SCHEME,
        "versions": _versions(),
        "weights_sha256": _sha256(Path(tmp_weights)),
        **extra,
    }
    os.replace(tmp_weights, out / WEIGHTS)
    fd, tmp_meta = tempfile.mkstemp(dir=out, prefix=".model.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(meta, fh, indent=2, default=float)
        fh.write("\n")
    os.replace(tmp_meta, out / META)
    return out


def load_artifact(model_dir: str | os.PathLike[str], *, device: torch.device | str = "cpu") -> Artifact:
    """Load and check a model artifact.

    Raises:
        ArtifactError: Missing files, unreadable or wrong-format JSON, a newer format version,
            a weights file whose checksum does not match (damaged, truncated or swapped), or
            tensors whose names or shapes do not match the hyperparameters.
    """
    where = Path(model_dir)
    if not where.is_dir():
        raise ArtifactError(f"{where}: no such model directory (expected the --model-dir of a training run)")
    meta_path, weights_path = where / META, where / WEIGHTS
    for path in (meta_path, weights_path):
        if not path.is_file():
            raise ArtifactError(
                f"{where}: {path.name} is missing; is this a model directory written by ipinsights train?"
            )
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{meta_path}: not readable JSON ({exc}); the artifact is damaged") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ArtifactError(
            f"{meta_path}: not an ipinsights model description (format={meta.get('format') if isinstance(meta, dict) else None!r})"
        )
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ArtifactError(
            f"{meta_path}: artifact format version {version!r} is newer than this ipinsights "
            f"understands ({FORMAT_VERSION}); upgrade ipinsights"
        )
    expected = meta.get("weights_sha256")
    actual = _sha256(weights_path)
    if expected != actual:
        raise ArtifactError(
            f"{weights_path}: checksum mismatch (expected sha256 {str(expected)[:12]}…, got {actual[:12]}…); "
            "the weights file is damaged, truncated or from another model"
        )
    try:
        hp = HyperParameters.from_mapping(meta["hyperparameters"])
    except (KeyError, TypeError, ConfigError) as exc:
        raise ArtifactError(f"{meta_path}: invalid hyperparameters ({exc})") from None
    try:
        tensors = load_file(weights_path)
    except (SafetensorError, OSError, ValueError) as exc:
        raise ArtifactError(f"{weights_path}: not a readable safetensors file ({exc})") from None
    known = tensors.pop(_KNOWN, None)
    if known is None:
        raise ArtifactError(f"{weights_path}: the {_KNOWN} tensor is missing")
    net = IPInsightsNet(
        hp.num_entity_vectors,
        hp.vector_dim,
        hp.num_ip_encoder_layers,
        ip_encoder=meta.get("ip_encoder", "prefix"),
    )
    own = net.state_dict()
    missing = sorted(set(own) - set(tensors))
    unexpected = sorted(set(tensors) - set(own))
    wrong = [k for k in own if k in tensors and tensors[k].shape != own[k].shape]
    if missing or unexpected or wrong:
        detail = "; ".join(
            part
            for part in (
                f"missing {missing}" if missing else "",
                f"unexpected {unexpected}" if unexpected else "",
                ", ".join(
                    f"{k} has shape {tuple(tensors[k].shape)}, expected {tuple(own[k].shape)}" for k in wrong
                ),
            )
            if part
        )
        raise ArtifactError(f"{weights_path}: weights do not match the hyperparameters in {META}: {detail}")
    net.load_state_dict(tensors)
    net.to(device).eval()
    return Artifact(net, known.numpy().view(np.uint64), meta)
