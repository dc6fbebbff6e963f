"""CSV parsing time on adversarial input shapes (issue 10, item 4): cost must be linear in size.

Each shape is one body of ``--size-mb`` megabytes (6 MB: the server's default payload limit),
parsed by the serving path (``inference.parse_request``, CSV and JSON) and by the training
reader (``data.read_pairs`` on a file). A normal body of short rows is the yardstick: every
other shape should cost about as much per megabyte, or less.

    python benchmarks/parse_adversarial.py                # all shapes, 6 MB, ~10 s
    python benchmarks/parse_adversarial.py --size-mb 1 --only long-entity leading-spaces

Before the fix (commit 704ba20), 6 MB: ``long-entity`` 40 s and ``leading-spaces`` 58 s on the
server (docs: hardening findings §1b), because the FNV-1a hash took one NumPy step per byte of
the longest entity and whitespace stripping one step per leading space.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ipinsights.data import read_pairs
from ipinsights.errors import DataError
from ipinsights.inference import parse_request


def _shapes(size: int) -> dict[str, tuple[str, bytes]]:
    """name -> (content type, body) of about ``size`` bytes."""
    row = b"user_12345,10.20.30.40\n"
    quoted = b'"user,12345","10.20.30.40"\n'
    chunk = 60_000
    return {
        "normal rows": ("text/csv", row * (size // len(row))),
        "long-entity": ("text/csv", b"x" * (size - 100) + b",1.2.3.4\n"),
        "leading-spaces": ("text/csv", b" " * (size - 100) + b"user_1,1.2.3.4\n"),
        "spaces-before-comma": ("text/csv", b"user_1" + b" " * (size - 100) + b",1.2.3.4\n"),
        "spaces-before-ip": ("text/csv", b"user_1," + b" " * (size - 100) + b"1.2.3.4\n"),
        "100 entities of 60 KB": ("text/csv", b"".join(b"%d" % i + b"y" * chunk + b",1.2.3.4\n" for i in range(size // chunk))),
        "entity lengths 1..3400": ("text/csv", b"".join(b"z" * n + b",1.2.3.4\n" for n in range(1, int((2 * size) ** 0.5)))),
        "quoted rows": ("text/csv", quoted * (size // len(quoted))),
        "one quoted entity with doubled quotes": ("text/csv", b'"' + b'a""' * (size // 3 - 40) + b'",1.2.3.4\n'),
        "only quotes": ("text/csv", b'"' * size + b"\n"),
        "only commas": ("text/csv", b"," * size + b"\n"),
        "only NUL bytes": ("text/csv", b"\0" * size + b"\n"),
        "JSON, long entity": (
            "application/json",
            json.dumps({"instances": [{"features": ["x" * (size - 100), "1.2.3.4"]}]}).encode(),
        ),
        "JSON, leading spaces": (
            "application/json",
            json.dumps({"instances": [{"features": [" " * (size - 100) + "u", "1.2.3.4"]}]}).encode(),
        ),
    }


def _seconds(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    with contextlib.suppress(DataError):  # no good row: the reader's refusal is part of its cost
        call()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=float, default=6.0)
    parser.add_argument("--only", nargs="*", default=None, help="shape names (default: all)")
    args = parser.parse_args()
    size = int(args.size_mb * 1024 * 1024)
    shapes = _shapes(size)
    names = args.only or list(shapes)
    print(f"| shape ({args.size_mb:g} MB) | parse_request, s | read_pairs (file), s |")
    print("|---|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            content_type, body = shapes[name]
            serve_s = _seconds(lambda body=body, content_type=content_type: parse_request(body, content_type))
            if content_type == "text/csv":
                path = Path(tmp) / "train.csv"
                path.write_bytes(body)
                train_s = f"{_seconds(lambda path=path: read_pairs(path, warn=io.StringIO())):.3f}"
            else:
                train_s = "-"
            print(f"| {name} | {serve_s:.3f} | {train_s} |", flush=True)


if __name__ == "__main__":
    main()
