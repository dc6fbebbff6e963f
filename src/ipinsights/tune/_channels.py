"""A job's data channels: where ``train`` and ``validation`` are, and how they are read.

The request's ``InputDataConfig`` (a ``{train: path}`` mapping or SageMaker's list of channels
with ``FileSystemDataSource`` / ``S3DataSource``) becomes local paths, with the command line's
``--train`` / ``--validation`` applied first; ``InputFormat``, ``EntityField`` and ``IpField``
become an :class:`~ipinsights.tune._types.InputFormat` (``train``'s ``--format`` options).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ipinsights.errors import ConfigError
from ipinsights.tune._fields import check_keys, mapping
from ipinsights.tune._types import CHANNELS, SAGEMAKER_ONLY, InputFormat, closest, show

__all__ = ["local_channels", "parse_input_format"]


def local_channels(
    value: Any, where: str, channel_paths: Mapping[str, str], base_dir: str | Path | None
) -> dict[str, str]:
    """The channels as local paths: ``channel_paths`` replace the request's, relative ones are
    taken from ``base_dir``, and an ``s3://`` one without a replacement is refused."""
    channels, labels = _channels(value, where)
    for channel, path in list(channels.items()):
        if channel in channel_paths:
            channels[channel] = channel_paths[channel]
        elif path.startswith("s3://"):
            raise ConfigError(
                f"{labels[channel]}: {show(path)} is in S3, which ipinsights does not read; pass "
                f"--{channel} PATH (a local copy of it) or give a local path in the file"
            )
        elif base_dir is not None and not Path(path).is_absolute():
            channels[channel] = str((Path(base_dir) / path).resolve())
    channels.update({k: v for k, v in channel_paths.items() if k not in channels})
    return channels


def parse_input_format(definition: Mapping[str, Any], where: str, override: dict[str, str]) -> InputFormat:
    """``InputFormat`` with its field names, from the definition; ``override``'s members replace its."""
    members = {k: definition[k] for k in ("InputFormat", "EntityField", "IpField") if k in definition}
    if "InputFormat" in override:  # another format: the file's field names were for its own format
        members = {}
    members.update(override)
    for key, value in members.items():
        if not isinstance(value, str):
            raise ConfigError(f"{where}.{key} must be a string, got {show(value)}")
    try:
        return InputFormat(members.get("InputFormat", "csv"), members.get("EntityField"), members.get("IpField"))
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _channels(value: Any, where: str) -> tuple[dict[str, str], dict[str, str]]:
    """``{train: path, validation: path}`` from that mapping or the reference's list of channels.

    Returns the paths as written (``s3://`` ones included: the caller replaces or refuses them)
    and, per channel, the field path to name in an error.
    """
    out: dict[str, str] = {}
    labels: dict[str, str] = {}
    if isinstance(value, Mapping):
        for key, given in value.items():
            if key not in CHANNELS:
                raise ConfigError(
                    f"{where}: unknown channel {show(key)}{closest(key, CHANNELS)}; channels: train, validation"
                )
            if not isinstance(given, str) or not given:
                raise ConfigError(f"{where}.{key} must be a path, got {show(given)}")
            out[key], labels[key] = given, f"{where}.{key}"
        return out, labels
    if not isinstance(value, list):
        raise ConfigError(f"{where} must map channel names to paths, e.g. {{train: data/train.csv}}")
    for i, item in enumerate(value):
        here = f"{where}[{i}]"
        item = mapping(item, here)
        check_keys(item, here, ("ChannelName", "DataSource"), SAGEMAKER_ONLY["channel"], unused_as=f"{where}[*]")
        channel = item.get("ChannelName")
        if channel not in CHANNELS:
            raise ConfigError(f"{here}.ChannelName must be train or validation, got {show(channel)}")
        source = mapping(item.get("DataSource") or {}, f"{here}.DataSource")
        check_keys(
            source,
            f"{here}.DataSource",
            ("FileSystemDataSource", "S3DataSource"),
            SAGEMAKER_ONLY["DataSource"],
            unused_as=f"{where}[*].DataSource",
        )
        path: Any = None
        if "FileSystemDataSource" in source:
            label = f"{here}.DataSource.FileSystemDataSource"
            fs = mapping(source["FileSystemDataSource"], label)
            check_keys(
                fs,
                label,
                ("DirectoryPath",),
                SAGEMAKER_ONLY["FileSystemDataSource"],
                unused_as=f"{where}[*].DataSource.FileSystemDataSource",
            )
            path, label = fs.get("DirectoryPath"), f"{label}.DirectoryPath ({channel})"
        elif "S3DataSource" in source:
            label = f"{here}.DataSource.S3DataSource"
            s3 = mapping(source["S3DataSource"], label)
            check_keys(
                s3,
                label,
                ("S3Uri",),
                SAGEMAKER_ONLY["S3DataSource"],
                unused_as=f"{where}[*].DataSource.S3DataSource",
            )
            path, label = s3.get("S3Uri"), f"{label}.S3Uri ({channel})"
            if isinstance(path, str) and path.startswith("file://"):
                path = path[len("file://") :]
        else:
            label = f"{here}.DataSource ({channel})"
        if not isinstance(path, str) or not path:
            raise ConfigError(
                f"{here}.DataSource ({channel}) has no path ipinsights can read; pass --{channel} PATH, or "
                "give S3DataSource.S3Uri or FileSystemDataSource.DirectoryPath as a local file or folder"
            )
        out[channel], labels[channel] = path, label
    return out, labels
