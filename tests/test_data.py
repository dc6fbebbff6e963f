import gzip
import io
import subprocess
import sys

import numpy as np
import pytest

from ipinsights import DataError
from ipinsights.data import (
    IPV4_MAPPED,
    entity_rows,
    format_ips,
    hash_entities,
    pairs_from_columns,
    parse_csv_bytes,
    parse_ips,
    read_pairs,
)


def test_ipv4_addresses_parse_to_their_ipv4_mapped_words():
    ok, hi, lo = parse_ips(["0.0.0.0", "1.2.3.4", "255.255.255.255", " 10.0.0.1 "])
    assert ok.all()
    assert hi.tolist() == [0, 0, 0, 0]
    assert lo.tolist() == [IPV4_MAPPED, IPV4_MAPPED | 0x01020304, IPV4_MAPPED | 0xFFFFFFFF, IPV4_MAPPED | 0x0A000001]


@pytest.mark.parametrize(
    "text",
    ["256.1.1.1", "1.2.3", "1.2.3.4.5", "1..2.3", "1.2.3.04", "01.2.3.4", "1.2.3.4a", "a.b.c.d", "", "1.2.3.-4", "1234.1.1.1", "1.2.3.4/24"],
)
def test_malformed_ipv4_text_is_rejected(text):
    ok, _, _ = parse_ips([text])
    assert not ok[0]


def test_ipv6_addresses_parse_in_every_text_form_and_ipv4_mapped_ones_equal_ipv4():
    ok, hi, lo = parse_ips(["2001:db8::1", "2001:0DB8:0000:0000:0000:0000:0000:0001", "::ffff:1.2.3.4", "1.2.3.4", "::1", "2001:db8:::1"])
    assert ok.tolist() == [True, True, True, True, True, False]
    assert (hi[0], lo[0]) == (hi[1], lo[1])
    assert (hi[2], lo[2]) == (hi[3], lo[3])
    assert format_ips(hi[:5], lo[:5]) == ["2001:db8::1", "2001:db8::1", "1.2.3.4", "1.2.3.4", "::1"]


def test_ipv6_words_cover_addresses_with_the_top_bit_set():
    ok, hi, lo = parse_ips(["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"])
    assert ok[0] and hi[0] == -1 and lo[0] == -1
    assert format_ips(hi, lo) == ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"]


def test_the_entity_hash_is_64_bit_fnv1a_of_the_stripped_utf8_bytes():
    # Reference values of FNV-1a 64: "" -> cbf29ce484222325, "a" -> af63dc4c8601ec8c, "foobar" -> 85944171f73967e8.
    h = hash_entities(["", "a", "foobar", "  foobar\t"])
    assert [f"{int(x):016x}" for x in h] == ["cbf29ce484222325", "af63dc4c8601ec8c", "85944171f73967e8", "85944171f73967e8"]
    assert hash_entities(["Zoë"])[0] != hash_entities(["Zoe"])[0]


def test_the_entity_hash_is_the_same_in_a_fresh_process():
    code = "from ipinsights.data import hash_entities; print([int(x) for x in hash_entities(['user_1', 'ärger', 'x'*300])])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == str([int(x) for x in hash_entities(["user_1", "ärger", "x" * 300])])


def test_entity_rows_are_the_hash_modulo_the_table_size():
    h = hash_entities(["a", "b", "c"])
    assert entity_rows(h, 1000).tolist() == [int(x) % 1000 for x in h]
    assert entity_rows(h, 1).tolist() == [0, 0, 0]


def test_csv_rows_with_surrounding_whitespace_crlf_and_blank_lines_are_read():
    rows = parse_csv_bytes(b"alice , 10.0.0.1\r\n\n   \n\tbob,2001:db8::2  \n")
    assert rows.error.tolist() == [0, 0]
    assert rows.line.tolist() == [1, 4]
    assert rows.entity_hash.tolist() == hash_entities(["alice", "bob"]).tolist()
    assert format_ips(rows.ip_hi, rows.ip_lo) == ["10.0.0.1", "2001:db8::2"]


def test_each_kind_of_bad_row_is_flagged_with_its_line_and_reason():
    data = b"ok,1.2.3.4\nonecolumn\na,b,c\n ,1.2.3.4\nbad,10.0.0.300\n\xff\xfe,1.2.3.4\nlast,::1\n"
    rows = parse_csv_bytes(data)
    reasons = [rows.reason(i) for i in range(len(rows.error))]
    assert rows.line.tolist() == [1, 2, 3, 4, 5, 6, 7]
    assert reasons == [
        "",
        "expected 2 columns (entity,ip), got 1",
        "expected 2 columns (entity,ip), got 3",
        "empty entity",
        "'10.0.0.300' is not an IP address",
        "not valid UTF-8",
        "",
    ]


def test_non_ascii_utf8_entities_are_good_rows():
    rows = parse_csv_bytes("jürgen,1.2.3.4\n用户,5.6.7.8\n".encode())
    assert rows.error.tolist() == [0, 0]
    assert rows.entity_hash.tolist() == hash_entities(["jürgen", "用户"]).tolist()


def test_read_pairs_reports_the_first_bad_rows_with_file_and_line(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("".join(f"u{i},10.0.{i % 256}.1\n" for i in range(500)) + "x,10.0.0.300\n")
    warnings = io.StringIO()
    pairs = read_pairs(path, warn=warnings)
    assert len(pairs) == 500 and pairs.report.num_bad_rows == 1
    assert warnings.getvalue() == f"{path} line 501: '10.0.0.300' is not an IP address (row skipped; 1 bad rows so far)\n"


def test_too_many_bad_rows_stop_before_training(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("a,1.2.3.4\n" * 98 + "b,nope\n" * 2)
    with pytest.raises(DataError, match=r"2 of 100 rows are bad \(2.00 % > the 1 % limit; first: .* line 99"):
        read_pairs(path, warn=io.StringIO())
    assert len(read_pairs(path, warn=io.StringIO(), max_bad_fraction=0.05)) == 98


def test_empty_input_and_garbage_are_clear_errors(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"\n  \n")
    with pytest.raises(DataError, match="the input is empty"):
        read_pairs(empty)
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(DataError, match="none of the .* rows is a valid entity,ip pair"):
        read_pairs(garbage, warn=io.StringIO())
    with pytest.raises(DataError, match="no such file"):
        read_pairs(tmp_path / "missing.csv")


def test_gzip_files_and_directories_of_files_are_channels(tmp_path):
    channel = tmp_path / "channel"
    channel.mkdir()
    (channel / "part-0.csv").write_text("a,1.2.3.4\nb,1.2.3.5\n")
    with gzip.open(channel / "part-1.csv.gz", "wt") as fh:
        fh.write("c,2001:db8::1\n")
    (channel / ".hidden").write_text("ignored\n")
    pairs = read_pairs(channel)
    assert len(pairs) == 3 and pairs.report.num_files == 2 and pairs.report.num_ipv6_rows == 1
    assert pairs.report.num_distinct_entities == 3
    empty_dir = tmp_path / "nothing"
    empty_dir.mkdir()
    with pytest.raises(DataError, match="holds no files"):
        read_pairs(empty_dir)


def test_columns_from_memory_get_the_same_hashes_and_bad_row_accounting():
    pairs = pairs_from_columns(["a", "b", ""], ["1.2.3.4", "::1", "1.2.3.4"], max_bad_fraction=0.5, warn=io.StringIO())
    assert pairs.entity_hash.tolist() == hash_entities(["a", "b"]).tolist()
    assert pairs.report.num_bad_rows == 1
    with pytest.raises(DataError, match="2 entities but 1 IP"):
        pairs_from_columns(["a", "b"], ["1.2.3.4"])


def test_csv_parsing_matches_a_reference_parser_on_random_rows():
    rng = np.random.default_rng(7)
    octets = rng.integers(0, 256, (2000, 4))
    texts = [".".join(map(str, o)) for o in octets]
    rows = parse_csv_bytes("".join(f"user_{i},{t}\n" for i, t in enumerate(texts)).encode())
    assert (rows.error == 0).all()
    expected = (octets[:, 0] << 24) | (octets[:, 1] << 16) | (octets[:, 2] << 8) | octets[:, 3]
    assert ((rows.ip_lo & 0xFFFFFFFF) == expected).all()
