"""The IPv4 range table and its file formats (ipinsights.lab.ranges)."""

from __future__ import annotations

import gzip
import re
from importlib import resources
from pathlib import Path

import pytest
from conftest import ipv4_int

from ipinsights.errors import DataError
from ipinsights.lab.ranges import ATTRIBUTION, RangeTable


def test_the_builtin_table_is_sorted_disjoint_and_ships_its_attribution(table: RangeTable) -> None:
    assert len(table) == 411_960
    assert (table.begin[1:] > table.end[:-1]).all()
    data = resources.files("ipinsights.lab") / "data"
    assert ATTRIBUTION in (data / "ATTRIBUTION.txt").read_text()
    for name in ("DBIP-LICENSE", "NRO_LICENSE", "ROUTEVIEWS-LICENSE"):
        assert "Creative Commons Attribution 4.0" in (data / name).read_text()


def test_an_iptoasn_tsv_loads_without_its_unrouted_rows(tmp_path: Path) -> None:
    path = tmp_path / "ip2asn-v4.tsv"
    path.write_text(
        "1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET\n"
        "1.0.1.0\t1.0.3.255\t0\tNone\tNot routed\n"
        "1.0.4.0\t1.0.7.255\t38803\tAU\tWPL-AS-AP Wirefreebroadband Pty Ltd\n"
    )
    table = RangeTable.from_file(path)
    assert table.asn.tolist() == [13335, 38803]
    assert table.begin.tolist() == [ipv4_int("1.0.0.0"), ipv4_int("1.0.4.0")]
    assert table.length.tolist() == [256, 1024]


def test_an_ip_location_db_csv_loads_in_integer_or_dotted_form_with_quoted_names(tmp_path: Path) -> None:
    path = tmp_path / "asn-ipv4-num.csv"
    path.write_text('16778240,16779263,38803,"Wirefree, Pty"\n16777216,16777471,13335,Cloudflare\n')
    dotted = tmp_path / "asn-ipv4.csv"
    dotted.write_text("start,end,asn,org\n1.0.0.0,1.0.0.255,13335,Cloudflare\n1.0.4.0,1.0.7.255,AS38803,x\n")
    assert RangeTable.from_file(path).asn.tolist() == [13335, 38803]  # sorted by address
    assert RangeTable.from_file(dotted).asn.tolist() == [13335, 38803]  # header skipped


def test_crlf_line_ends_spaces_and_non_ascii_names_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "ranges.csv"
    path.write_bytes(
        ' 1.0.0.0 , "1.0.0.255", 3352 ,"Telefónica, S.A."\r\n1.0.1.0,1.0.1.255,AS7,x\r\n'.encode()
    )
    table = RangeTable.from_file(path)
    assert table.asn.tolist() == [3352, 7] and table.end.tolist() == [
        ipv4_int("1.0.0.255"),
        ipv4_int("1.0.1.255"),
    ]


def test_a_gzipped_table_and_a_saved_npz_load_back_equal(tmp_path: Path) -> None:
    text = "1.0.0.0,1.0.0.255,13335\n1.0.4.0,1.0.7.255,38803\n9.9.9.0,9.9.9.255,19281\n"
    (tmp_path / "t.csv.gz").write_bytes(gzip.compress(text.encode()))
    table = RangeTable.from_file(tmp_path / "t.csv.gz")
    again = RangeTable.from_file(table.save(tmp_path / "t.npz"))
    for name in ("begin", "end", "asn"):
        assert (getattr(table, name) == getattr(again, name)).all()


def test_overlapping_ranges_in_a_file_are_dropped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "overlap.csv"
    path.write_text("10.0.0.0,10.0.0.255,1\n10.0.0.128,10.0.1.255,2\n10.0.2.0,10.0.2.255,3\n")
    table = RangeTable.from_file(path)
    assert table.asn.tolist() == [1, 3] and table.num_dropped_overlaps == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "1.0.0.0,1.0.0.255,13335\n1.0.1.0,1.0.1.300,7\n",
            r"line 2: end '1\.0\.1\.300' is not an IPv4 address",
        ),
        ("1.0.0.0,1.0.0.255,13335\n\n1.0.1.0,1.0.1.255\n", "line 3: expected at least 3 columns"),
        (
            "1.0.0.0,1.0.0.255,x13335\n1.0.1.0,1.0.1.255,y\n",
            r"line 1: AS number 'x13335' is not an integer .* \(1 more bad line\)",
        ),
        (
            "1.0.1.0,1.0.0.255,13335\n",
            r"line 1: the range ends \(1\.0\.0\.255\) before it begins \(1\.0\.1\.0\)",
        ),
        ("no separators here\n", "line 1: no tab or comma"),
    ],
)
def test_bad_lines_raise_data_errors_naming_the_file_and_line(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "ranges.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=f"{re.escape(str(path))} {message}"):
        RangeTable.from_file(path)


def test_a_missing_table_file_is_a_data_error_with_the_formats(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist; expected an iptoasn TSV"):
        RangeTable.from_file(tmp_path / "nope.tsv")


def test_a_table_built_from_overlapping_arrays_is_refused() -> None:
    with pytest.raises(DataError, match=r"range 1 .* starts at or before the end of range 0"):
        RangeTable(begin=[0, 10], end=[20, 30], asn=[1, 2])
