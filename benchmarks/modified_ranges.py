"""A range table that is not the generator's own: the built-in table with ranges split, merged and shifted.

    .venv/bin/python benchmarks/modified_ranges.py /tmp/mod_ranges.npz
    .venv/bin/ipinsights generate --users 5000 --seed 2 --ranges /tmp/mod_ranges.npz --attacks 20000 --out DIR

Walking the table in address order (seed 7): 30 % of ranges merge with the next one (keeping the
first one's ASN), 30 % split at a random address (the second part a new ASN), the rest stay; then
every range moves up by 37 /16 networks (ranges pushed past 2**32 are dropped). A detection
feature that read back the built-in table's ranges would lose its edge on logins generated from
this one.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ipinsights.lab import RangeTable


def modified(table: RangeTable, seed: int = 7, shift_16s: int = 37) -> RangeTable:
    rng = np.random.default_rng(seed)
    begin, end, asn = (np.asarray(a, dtype=np.int64) for a in (table.begin, table.end, table.asn))
    new_begin, new_end, new_asn = [], [], []
    i, n = 0, len(begin)
    while i < n:
        r = rng.random()
        if r < 0.3 and i + 1 < n:  # merge with the next range
            new_begin.append(begin[i]), new_end.append(end[i + 1]), new_asn.append(asn[i])
            i += 2
            continue
        if r < 0.6 and end[i] > begin[i] + 1:  # split, the second part a new ASN
            cut = int(rng.integers(begin[i], end[i]))
            new_begin += [begin[i], cut + 1]
            new_end += [cut, end[i]]
            new_asn += [asn[i], asn[i] + 500000]
        else:
            new_begin.append(begin[i]), new_end.append(end[i]), new_asn.append(asn[i])
        i += 1
    b, e, a = (np.array(x) for x in (new_begin, new_end, new_asn))
    b, e = b + (shift_16s << 16), e + (shift_16s << 16)
    keep = e < 2**32
    return RangeTable(begin=b[keep], end=e[keep], asn=a[keep] % 2**32, source="modified built-in table")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="where to write the modified table (.npz), e.g. /tmp/mod_ranges.npz")
    args = parser.parse_args(argv)
    table = RangeTable.builtin()
    mod = modified(table)
    mod.save(args.out)
    print(f"built-in table: {len(table)} ranges; modified: {len(mod)} ranges; written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
