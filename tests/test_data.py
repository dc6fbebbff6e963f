import gzip
import io

import numpy as np
import pytest

from ipinsights import DataError
from ipinsights.addresses import format_ips, parse_ips
from ipinsights.data import (
    pairs_from_columns,
    parse_csv_bytes,
    read_pairs,
)
from ipinsights.entities import hash_entities


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


# -- issue 10: hardening ---------------------------------------------------------------------


def _fnv1a_reference(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFF_FFFF_FFFF_FFFF
    return h


def test_hardening_4_entities_around_the_long_entity_threshold_keep_their_fnv1a_hash():
    rng = np.random.default_rng(3)
    texts = ["".join(map(chr, rng.integers(ord("0"), ord("z") + 1, n))) for n in (1, 8191, 8192, 8193, 16384, 16385, 40_000)]
    texts.append("é" * 5000)  # 10,000 UTF-8 bytes, above the threshold
    expected = [_fnv1a_reference(t.encode()) for t in texts]
    assert hash_entities(texts).tolist() == expected
    body = "".join(f"{t},1.2.3.4\n" for t in texts).encode()
    assert parse_csv_bytes(body).entity_hash.tolist() == expected


def test_hardening_4_a_multi_megabyte_entity_or_run_of_spaces_is_read_exactly(tmp_path):
    # Each of these shapes cost 40-60 s at 6 MB before (one NumPy step per byte or per space);
    # benchmarks/parse_adversarial.py times them. Here: the values are right.
    size = 2 * 1024 * 1024
    entity = b"x" * size
    rows = parse_csv_bytes(entity + b",1.2.3.4\n" + b" " * size + b"user_1" + b" " * size + b", " + b" " * size + b"5.6.7.8\n")
    assert rows.error.tolist() == [0, 0]
    assert rows.entity_hash.tolist() == [_fnv1a_reference(entity), int(hash_entities(["user_1"])[0])]
    assert format_ips(rows.ip_hi, rows.ip_lo) == ["1.2.3.4", "5.6.7.8"]
    path = tmp_path / "train.csv"
    path.write_bytes(b" " * size + b"user_1,1.2.3.4\n" + entity + b",1.2.3.4\n")
    pairs = read_pairs(path, warn=io.StringIO())
    assert pairs.entity_hash.tolist() == [int(hash_entities(["user_1"])[0]), _fnv1a_reference(entity)]


def test_hardening_4_many_rows_with_long_leading_spaces_strip_like_short_ones():
    # More than _FEW_RUNS rows with long runs, then fewer: both stripping paths.
    lines = [" " * (i * 37 % 300) + f"u{i}" + "\t" * (i % 5) + " , " + " " * i + "10.0.0.1" + " " * (i % 40) for i in range(100)]
    rows = parse_csv_bytes("\n".join(lines).encode())
    assert rows.error.tolist() == [0] * 100
    assert rows.entity_hash.tolist() == hash_entities([f"u{i}" for i in range(100)]).tolist()


def test_hardening_9_a_utf8_byte_order_mark_at_the_start_is_dropped(tmp_path):
    rows = parse_csv_bytes(b"\xef\xbb\xbfuser_1,1.2.3.4\nuser_1,1.2.3.4\n")
    assert rows.error.tolist() == [0, 0] and rows.line.tolist() == [1, 2]
    assert rows.entity_hash[0] == rows.entity_hash[1] == hash_entities(["user_1"])[0]
    channel = tmp_path / "channel"
    channel.mkdir()
    (channel / "a.csv").write_bytes(b"\xef\xbb\xbfa,1.2.3.4\r\n")
    with gzip.open(channel / "b.csv.gz", "wb") as fh:
        fh.write(b"\xef\xbb\xbfb,1.2.3.5\n")
    assert read_pairs(channel).entity_hash.tolist() == hash_entities(["a", "b"]).tolist()


def test_hardening_9_a_byte_order_mark_elsewhere_is_not_dropped():
    rows = parse_csv_bytes("a,1.2.3.4\n\ufeffa,1.2.3.4\n".encode())
    assert rows.error.tolist() == [0, 0] and rows.entity_hash[0] != rows.entity_hash[1]


@pytest.mark.parametrize(
    ("line", "entity", "ip"),
    [
        (b'"user,1",1.2.3.4', "user,1", "1.2.3.4"),
        (b'"a""b",1.2.3.4', 'a"b', "1.2.3.4"),
        (b'"user_1","1.2.3.4"', "user_1", "1.2.3.4"),
        (b'  "user_1"  ,  "::1" ', "user_1", "::1"),
        (b'"a, ""b"", c",10.0.0.1', 'a, "b", c', "10.0.0.1"),
        (b'""""", """,1.2.3.4', '"", "', "1.2.3.4"),
        (b'O"Brien,1.2.3.4', 'O"Brien', "1.2.3.4"),  # a quote inside an unquoted field is kept
        (b'" user_1 ",1.2.3.4', "user_1", "1.2.3.4"),  # stripped like every entity
    ],
)
def test_hardening_9_rfc4180_quoted_fields_are_unquoted(line, entity, ip):
    rows = parse_csv_bytes(b"plain,1.2.3.4\n" + line + b"\n", keep_text=True)
    assert rows.error.tolist() == [0, 0]
    assert rows.entity_hash[1] == hash_entities([entity])[0]
    assert rows.entity_text == ["plain", entity] and rows.ip_text == ["1.2.3.4", ip]
    assert format_ips(rows.ip_hi[1:], rows.ip_lo[1:]) == [ip]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'"user_1,1.2.3.4', "a quoted field must end with a quote before the comma"),
        (b'"user"_1,1.2.3.4', "a quoted field must end with a quote before the comma"),
        (b'"a,b",1.2.3.4,x', "expected 2 columns (entity,ip), got 3"),
        (b'"a,b",1.2.3.4,"x",y', "expected 2 columns (entity,ip), got 3 or more"),
        (b'"a,b"', "expected 2 columns (entity,ip), got 1"),
        (b'"",1.2.3.4', "empty entity"),
        (b'"a\x00b",1.2.3.4', "the entity contains the control character 0x00"),
        (b'"a",1.2.3.400', "'1.2.3.400' is not an IP address"),
    ],
)
def test_hardening_9_malformed_quoted_rows_are_bad_rows_with_a_reason(line, reason):
    rows = parse_csv_bytes(b"plain,1.2.3.4\n" + line + b"\nlast,1.2.3.4\n")
    assert rows.error.tolist()[0::2] == [0, 0] and rows.error[1] != 0
    assert rows.reason(1).startswith(reason)
    assert rows.entity_hash[2] == hash_entities(["last"])[0]


def test_hardening_9_a_quoted_field_does_not_span_lines():
    # The line that opens it is a bad row (so the user hears of it); the next is a row of its own.
    rows = parse_csv_bytes(b'"a\nb",1.2.3.4\n')
    assert rows.line.tolist() == [1, 2]
    assert rows.reason(0).startswith("a quoted field must end with a quote") and rows.error[1] == 0


def test_hardening_9_quoted_and_unquoted_files_train_the_same_entities(tmp_path):
    plain, quoted = tmp_path / "plain.csv", tmp_path / "quoted.csv"
    plain.write_text("".join(f"user_{i},10.0.0.{i}\n" for i in range(50)))
    quoted.write_text("".join(f'"user_{i}","10.0.0.{i}"\n' for i in range(50)))  # jq -r '@csv'
    a, b = read_pairs(plain), read_pairs(quoted)
    assert a.entity_hash.tolist() == b.entity_hash.tolist() and a.ip_lo.tolist() == b.ip_lo.tolist()


@pytest.mark.parametrize("char", [b"\x00", b"\x01", b"\x1b", b"\x7f", b"\t", b"\r"])
def test_hardening_9_a_control_character_inside_an_entity_makes_the_row_bad(tmp_path, char):
    path = tmp_path / "train.csv"
    path.write_bytes(b"user_1,1.2.3.4\n" * 200 + b"user" + char + b"X,1.2.3.4\n")
    warnings = io.StringIO()
    pairs = read_pairs(path, warn=warnings)
    assert len(pairs) == 200 and pairs.report.num_distinct_entities == 1
    assert warnings.getvalue() == (
        f"{path} line 201: the entity contains the control character 0x{char[0]:02x} (row skipped; 1 bad rows so far)\n"
    )


def test_hardening_9_whitespace_around_an_entity_is_still_stripped_not_refused():
    rows = parse_csv_bytes(b"\t user_1 \t\r,1.2.3.4\r\n\x7fx,1.2.3.4\n")
    assert rows.error.tolist() == [0, 5]
    assert rows.entity_hash[0] == hash_entities(["user_1"])[0]


@pytest.mark.parametrize("ip", ["fe80::1%eth0", "fe80::1%25", "ff02::1%1"])
def test_hardening_9_ipv6_zone_ids_are_refused_with_the_reason(ip):
    rows = parse_csv_bytes(f"user_1,{ip}\n".encode())
    assert rows.error.tolist() == [3]
    assert rows.reason(0).startswith(f"{ip!r} is not an IP address (an IPv6 zone id such as %eth0")
    assert not parse_ips([ip])[0][0]


def test_hardening_9_files_in_subdirectories_of_a_channel_are_read(tmp_path):
    channel = tmp_path / "channel"
    (channel / "2024" / "01").mkdir(parents=True)
    (channel / ".git").mkdir()
    (channel / "a.csv").write_text("a,1.2.3.4\n")
    (channel / "2024" / "b.csv").write_text("b,1.2.3.4\n")
    (channel / "2024" / "01" / "c.csv").write_text("c,1.2.3.4\nc,bad\n" + "c,1.2.3.4\n" * 200)
    (channel / ".git" / "d.csv").write_text("d,1.2.3.4\n")
    warnings = io.StringIO()
    pairs = read_pairs(channel, warn=warnings)
    assert pairs.report.num_files == 3 and pairs.report.num_distinct_entities == 3
    assert sorted(set(pairs.entity_hash.tolist())) == sorted(hash_entities(["a", "b", "c"]).tolist())
    assert warnings.getvalue().startswith(f"{channel / '2024' / '01' / 'c.csv'} line 2: ")


def test_hardening_9_a_link_to_a_folder_inside_a_channel_is_refused_by_name(tmp_path):
    channel = tmp_path / "channel"
    channel.mkdir()
    (channel / "a.csv").write_text("a,1.2.3.4\n")
    (channel / "loop").symlink_to(channel)
    with pytest.raises(DataError, match=f"^{channel / 'loop'}: a link to a folder inside a channel is not followed"):
        read_pairs(channel)
