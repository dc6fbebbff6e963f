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
import math
import os
import platform
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from ipinsights.addresses import ENCODER_LEVELS
from ipinsights.config import HyperParameters
from ipinsights.errors import ArtifactError
from ipinsights.model import DESIGNS, LEVEL_BUCKETS, IPInsightsNet, available_memory_bytes

__all__ = ["FORMAT", "FORMAT_VERSION", "Artifact", "load_artifact", "save_artifact"]

FORMAT = "ipinsights-model"
FORMAT_VERSION = 1
WEIGHTS = "model.safetensors"
META = "model.json"
_KNOWN = "known_entity_hashes"

#: How entities and addresses map to table rows, recorded in ``model.json`` for a reader of the
#: artifact; loading does not compare it (the format version does that job), so artifacts that
#: recorded the wrong IPv6 levels [16, 32, 48, 64] before they were generated from
#: ``ENCODER_LEVELS`` still load.
HASH_SCHEME = {
    "entity": "FNV-1a 64-bit over the UTF-8 bytes of the entity with surrounding whitespace removed",
    "entity_row": "hash mod num_entity_vectors",
    "ip_levels_ipv4": [level.ipv4_bits for level in ENCODER_LEVELS],
    "ip_levels_ipv6": [level.ipv6_bits for level in ENCODER_LEVELS],
    "ip_level_buckets": list(LEVEL_BUCKETS),
}


@dataclass
class Artifact:
    """A loaded model: the network, the known-entity hashes and the metadata."""

    net: IPInsightsNet
    known_entity_hashes: np.ndarray
    meta: dict[str, Any]
    #: Tensors saved beside the network under ``history.`` names (``ipinsights.history``).
    extra_tensors: dict[str, np.ndarray] = field(default_factory=dict)

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
    from ipinsights._version import __version__

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
    extra_tensors: dict[str, np.ndarray] | None = None,
) -> Path:
    """Write ``model.safetensors`` and ``model.json`` into ``model_dir`` (created if needed).

    Crash-safe: both files are written and fsynced in a staging folder inside ``model_dir``
    first, then renamed over the old ones, weights first. A kill before the renames leaves the
    previous model as it was; one between them leaves new weights with the old description,
    which :func:`load_artifact` refuses (checksum mismatch, naming the complete new description
    left in the staging folder). Staging folders of earlier, interrupted saves are removed.
    One process at a time should save into a directory. ``extra_tensors`` (1-D int64 or int32
    arrays named ``history.*``) are stored in the same weights file, under the same checksum.
    """
    out = Path(model_dir)
    out.mkdir(parents=True, exist_ok=True)
    _remove_interrupted_saves(out)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in net.state_dict().items()}
    tensors[_KNOWN] = torch.from_numpy(
        np.ascontiguousarray(known_entity_hashes, dtype=np.uint64).view(np.int64)
    )
    for name, array in (extra_tensors or {}).items():
        if not name.startswith(_EXTRA_PREFIX):
            raise ValueError(f"extra tensor names start with {_EXTRA_PREFIX!r}, got {name!r}")
        tensors[name] = torch.from_numpy(np.ascontiguousarray(array))
    # safetensors writes through a temporary file of its own next to its target: in the
    # staging folder, a kill leaves nothing loose in model_dir.
    staging = Path(tempfile.mkdtemp(dir=out, prefix=f"{_STAGING}{os.getpid()}-", suffix=".tmp"))
    try:
        weights, description = staging / WEIGHTS, staging / META
        save_file(tensors, weights)
        os.chmod(weights, 0o666 & ~_umask())  # safetensors' temporary file is owner-only (0600)
        _fsync(weights)
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "hyperparameters": hyperparameters.to_dict(),
            "ip_encoder": ip_encoder,
            "hash_scheme": HASH_SCHEME,
            "versions": _versions(),
            "weights_sha256": _sha256(weights),
            **extra,
        }
        with description.open("w") as fh:
            json.dump(meta, fh, indent=2, default=float)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(weights, out / WEIGHTS)
        os.replace(description, out / META)
        _fsync(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


#: Name prefix of the staging folders of :func:`save_artifact` (``.save-<pid>-<random>.tmp``).
_STAGING = ".save-"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync(path: Path) -> None:
    """Flush a file's data, or a directory's entries, to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _interrupted_saves(out: Path) -> list[Path]:
    """Staging folders in ``out`` whose saving process is gone, and loose temporary files of
    earlier versions (``.model.*.tmp``, and safetensors' ``.tmpXXXXXX``)."""
    found = []
    for path in out.glob(".*tmp*"):
        if path.name.startswith(_STAGING) and path.name.endswith(".tmp") and path.is_dir():
            pid = path.name[len(_STAGING) :].split("-", 1)[0]
            if pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid)):
                continue  # another process is saving right now
            found.append(path)
        elif path.is_file() and (
            (path.name.startswith(".model.") and path.name.endswith(".tmp"))
            or (path.name.startswith(".tmp") and len(path.name) == 10)
        ):
            found.append(path)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_interrupted_saves(out: Path) -> None:
    for path in _interrupted_saves(out):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def load_artifact(model_dir: str | os.PathLike[str], *, device: torch.device | str = "cpu") -> Artifact:
    """Load and check a model artifact.

    Every field of ``model.json`` that loading uses, and every tensor's name, dtype and shape
    (read from the safetensors header), is checked against the hyperparameters before any
    tensor is allocated: the checksum covers the weights only, so an edited ``model.json``
    must not decide what gets allocated.

    Raises:
        ArtifactError: Missing files, unreadable or wrong-format JSON, a field of the wrong
            type, a newer format version, a weights file whose checksum does not match
            (damaged, truncated or swapped), tensors whose names, dtypes or shapes do not match
            the hyperparameters, non-finite weights, or weights larger than the free memory.
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
    meta = _read_meta(meta_path)
    expected = meta.get("weights_sha256")
    actual = _sha256(weights_path)
    if expected != actual:
        raise ArtifactError(
            f"{weights_path}: checksum mismatch (expected sha256 {str(expected)[:12]}…, got {actual[:12]}…); "
            f"the weights file is damaged, truncated or from another model{_pending_description(where, actual)}"
        )
    try:
        hp = HyperParameters.from_mapping(meta["hyperparameters"])
    except (KeyError, TypeError, ValueError, RecursionError) as exc:  # ConfigError is a ValueError
        raise ArtifactError(f"{meta_path}: invalid hyperparameters ({exc})") from None
    with torch.device("meta"):  # shapes without allocating
        expected_net = IPInsightsNet(
            hp.num_entity_vectors, hp.vector_dim, hp.num_ip_encoder_layers, ip_encoder=meta["ip_encoder"]
        )
    own: dict[str, tuple[torch.dtype, tuple[int, ...] | None]] = {
        k: (v.dtype, tuple(v.shape)) for k, v in expected_net.state_dict().items()
    }
    own[_KNOWN] = (torch.int64, None)  # 1-D, any length
    header = _read_header(weights_path)
    for name in header:  # the entity history's tables: 1-D keys (int64) and counts (int32)
        if name.startswith(_EXTRA_PREFIX):
            own[name] = (torch.int32 if name.endswith(".counts") else torch.int64, None)
    _check_tensors(weights_path, header, own)
    need = sum(math.prod(shape) * (4 if dtype in ("F32", "I32") else 8) for _, (dtype, shape) in header.items())
    available = available_memory_bytes(device)
    if available is not None and need > available[0]:
        raise ArtifactError(
            f"{weights_path}: loading needs {need / 1e9:,.1f} GB, more than the {available[0] / 1e9:,.1f} GB "
            f"available ({available[1]}); load it on a machine with more memory, or free memory"
        )
    try:
        tensors = load_file(weights_path)
    except (SafetensorError, OSError, ValueError) as exc:
        raise ArtifactError(f"{weights_path}: not a readable safetensors file ({exc})") from None
    known = tensors.pop(_KNOWN).numpy().view(np.uint64)
    extra = {name: tensors.pop(name).numpy() for name in list(tensors) if name.startswith(_EXTRA_PREFIX)}
    if len(known) > 1 and not bool(np.all(known[1:] > known[:-1])):
        raise ArtifactError(f"{weights_path}: {_KNOWN} is not sorted and distinct; the artifact was edited or damaged")
    for name, tensor in tensors.items():
        if not bool(torch.isfinite(tensor).all()):
            raise ArtifactError(f"{weights_path}: {name} holds NaN or infinite weights; this model cannot score")
    expected_net.load_state_dict(tensors, assign=True)  # the loaded tensors become the parameters
    expected_net.to(device).eval()
    return Artifact(expected_net, known, meta, extra)


def _read_meta(meta_path: Path) -> dict[str, Any]:
    """``model.json``, with the type of every field that loading uses checked."""
    try:
        meta = json.loads(meta_path.read_bytes())
    except (OSError, ValueError, RecursionError) as exc:  # ValueError: JSONDecodeError, UnicodeDecodeError
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise ArtifactError(f"{meta_path}: not readable JSON ({reason}); the artifact is damaged") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise ArtifactError(
            f"{meta_path}: not an ipinsights model description (format={str(found)[:40]!r}, expected {FORMAT!r})"
        )
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ArtifactError(
            f"{meta_path}: format_version must be a positive integer, got {str(version)[:40]}; the artifact is damaged"
        )
    if version > FORMAT_VERSION:
        raise ArtifactError(
            f"{meta_path}: artifact format version {version!r} is newer than this ipinsights "
            f"understands ({FORMAT_VERSION}); upgrade ipinsights"
        )
    meta.setdefault("ip_encoder", "prefix")
    rules: list[tuple[str, tuple[type, ...], str]] = [
        ("hyperparameters", (dict,), "a JSON object"),
        ("ip_encoder", (str,), f"one of {', '.join(DESIGNS)}"),
        ("seed", (int,), "an integer"),
        ("epochs_completed", (int,), "an integer"),
        ("training_data", (dict,), "a JSON object"),
        ("validation_data", (dict,), "a JSON object"),
        ("metrics", (dict,), "a JSON object of name: number"),
        ("history", (list,), "a JSON list of metric objects"),
    ]
    for name, types, rule in rules:
        value = meta.get(name)
        bad = value is not None and (not isinstance(value, types) or isinstance(value, bool))
        bad = bad or (name == "ip_encoder" and value not in DESIGNS)
        bad = bad or (name == "hyperparameters" and value is None)
        bad = bad or (name == "metrics" and value is not None and not all(_is_number(v) for v in value.values()))
        bad = bad or (name == "history" and value is not None and not all(isinstance(v, dict) for v in value))
        if bad:
            raise ArtifactError(
                f"{meta_path}: {name} must be {rule}, got {json.dumps(value)[:60]}; the artifact was edited or damaged"
            )
    return meta


def _is_number(value: Any) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def _read_header(weights_path: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Each tensor's dtype and shape, from the safetensors header alone."""
    try:
        with safe_open(weights_path, framework="pt") as fh:
            return {
                name: (fh.get_slice(name).get_dtype(), tuple(fh.get_slice(name).get_shape())) for name in fh.keys()  # noqa: SIM118 (safe_open is not iterable)
            }
    except (SafetensorError, OSError, ValueError) as exc:
        raise ArtifactError(f"{weights_path}: not a readable safetensors file ({exc})") from None


_DTYPES = {torch.float32: "F32", torch.int64: "I64", torch.int32: "I32"}

#: Name prefix of the extra tensors an artifact may hold beside the network's.
_EXTRA_PREFIX = "history."


def _check_tensors(
    weights_path: Path,
    header: dict[str, tuple[str, tuple[int, ...]]],
    own: dict[str, tuple[torch.dtype, tuple[int, ...] | None]],
) -> None:
    missing = sorted(set(own) - set(header))
    unexpected = sorted(set(header) - set(own))
    wrong = []
    for name, (dtype, shape) in own.items():
        if name not in header:
            continue
        found_dtype, found_shape = header[name]
        if found_dtype != _DTYPES[dtype]:
            wrong.append(f"{name} has dtype {found_dtype}, expected {_DTYPES[dtype]}")
        elif shape is None and len(found_shape) != 1:
            wrong.append(f"{name} has shape {found_shape}, expected one dimension")
        elif shape is not None and found_shape != shape:
            wrong.append(f"{name} has shape {found_shape}, expected {shape}")
    if missing or unexpected or wrong:
        detail = "; ".join(
            part
            for part in (
                f"missing {missing}" if missing else "",
                f"unexpected {unexpected[:10]}" if unexpected else "",
                ", ".join(wrong[:10]),
            )
            if part
        )
        raise ArtifactError(f"{weights_path}: weights do not match the hyperparameters in {META}: {detail}")


def _pending_description(where: Path, weights_sha256: str) -> str:
    """The fix when a save was interrupted between its two renames: its complete description."""
    for staging in sorted(where.glob(f"{_STAGING}*.tmp")):
        candidate = staging / META
        try:
            if json.loads(candidate.read_bytes()).get("weights_sha256") == weights_sha256:
                return f"; a save was interrupted: its matching description is {candidate} (move it to {where / META})"
        except (OSError, ValueError, RecursionError, AttributeError):
            continue
    return ""
