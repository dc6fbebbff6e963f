"""Reading a tuning job file (JSON or YAML) into a request document, with bounds on its size.

:func:`load_job_config` reads the file, refuses what could exhaust memory or the stack (deep
nesting, YAML aliases that expand past :data:`MAX_CONFIG_VALUES`), applies the command line's
overrides and hands the document to :func:`ipinsights.tune._parse.parse_job_config`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ipinsights.errors import ConfigError
from ipinsights.tune._parse import parse_job_config
from ipinsights.tune._types import TuningJobConfig, bounded

__all__ = ["MAX_CONFIG_DEPTH", "MAX_CONFIG_VALUES", "load_job_config"]

#: Bounds on a job file: levels of nesting, and values once YAML aliases are expanded.
MAX_CONFIG_DEPTH = 64
MAX_CONFIG_VALUES = 100_000


def load_job_config(
    path: str | Path,
    *,
    name: str | None = None,
    train: str | None = None,
    validation: str | None = None,
    seed_if_missing: int | None = None,
    input_format: dict[str, str] | None = None,
) -> TuningJobConfig:
    """Read and validate a job file (``.json``, ``.yaml`` or ``.yml``).

    Relative data paths are taken relative to the file's folder. ``name``, ``train`` and
    ``validation`` override the file (the command line's ``--name``, ``--train``,
    ``--validation``), as ``input_format`` overrides its ``InputFormat``, ``EntityField`` and
    ``IpField`` (``--format``, ``--entity-field``, ``--ip-field``); without a name in either,
    the file's stem is the job name.

    Raises:
        ConfigError: The file cannot be read or parsed, or breaks a rule.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"--config {path}: cannot read ({exc.strerror})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"--config {path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "a job file is JSON or YAML in UTF-8"
        ) from None
    too_deep = (
        f"--config {path}: nested too deeply (a job file has at most {MAX_CONFIG_DEPTH} levels of "
        "mappings and lists)"
    )
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            document = _load_yaml(text, path)
        else:
            try:
                document = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"--config {path}: not valid JSON ({exc})") from None
    except RecursionError:
        raise ConfigError(too_deep) from None
    if _depth(document) > MAX_CONFIG_DEPTH:
        raise ConfigError(too_deep)
    if not isinstance(document, dict):
        raise ConfigError(
            f"--config {path}: expected a mapping with HyperParameterTuningJobConfig at the top"
        )
    document = dict(document)
    if name is not None:
        document["HyperParameterTuningJobName"] = name
    document.setdefault("HyperParameterTuningJobName", path.stem)
    overrides = {
        channel: str(Path(value).resolve())
        for channel, value in (("train", train), ("validation", validation))
        if value is not None
    }
    return parse_job_config(
        document,
        seed_if_missing=seed_if_missing,
        channel_paths=overrides,
        base_dir=path.parent,
        input_format=input_format,
    )


def _load_yaml(text: str, path: Path) -> Any:
    """``yaml.safe_load``, refusing documents whose aliases expand past ``MAX_CONFIG_VALUES``.

    An alias is shared when loaded, so a 734-byte "billion laughs" file loads at once; its
    size shows when anything walks it (an error message's repr once printed 254 MB). The
    expanded size is counted on the node graph, memoised by node, so counting is cheap too.
    """
    import yaml

    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node) > MAX_CONFIG_VALUES:
            raise ConfigError(
                f"--config {path}: more than {MAX_CONFIG_VALUES} values once its YAML aliases (*name) "
                "are expanded; a job file needs far fewer: write the values out"
            )
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"--config {path}: not valid YAML ({bounded(' '.join(str(exc).split()), 300)})"
        ) from None
    finally:
        loader.dispose()


def _expanded_size(root: Any) -> int:
    """Values in a YAML node graph with every alias expanded (iterative: no recursion limit)."""
    import yaml

    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if not children_done and id(node) in open_nodes:
            return MAX_CONFIG_VALUES + 1  # an alias inside its own anchor: infinite
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [item for pair in node.value for item in pair]
        else:
            children = []
        if children_done or not children:
            open_nodes.discard(id(node))
            sizes[id(node)] = min(1 + sum(sizes.get(id(c), 0) for c in children), MAX_CONFIG_VALUES + 1)
            continue
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def _depth(document: Any) -> int:
    """Levels of mappings and lists in a loaded document (iterative)."""
    deepest = 0
    stack = [(document, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, (dict, list)):
            deepest = max(deepest, level)
            if level <= MAX_CONFIG_DEPTH:
                stack.extend((v, level + 1) for v in (value.values() if isinstance(value, dict) else value))
    return deepest

