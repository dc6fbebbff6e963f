"""The log readers, on samples written from each format's documentation (OpenSSH's auth.c log
line, Apache's mod_log_config and nginx's log_format, AWS's CloudTrail record contents)."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ipinsights.addresses import parse_ips
from ipinsights.entities import hash_entities
from ipinsights.errors import ConfigError, DataError, MissingExtraError
from ipinsights.readers import as_pairs, read_log, read_log_columns

AUTH_LOG = """\
Mar  3 10:15:01 bastion sshd[1201]: Accepted publickey for alice from 203.0.113.7 port 52144 ssh2: ED25519 SHA256:7Jd0KkTe1AbCdEf
Mar  3 10:15:01 bastion sshd[1201]: pam_unix(sshd:session): session opened for user alice(uid=1000) by (uid=0)
Mar  3 10:16:12 bastion sshd[1207]: Failed password for invalid user admin from 198.51.100.23 port 40022 ssh2
Mar  3 10:16:15 bastion sshd[1207]: Failed password for root from 198.51.100.23 port 40030 ssh2
Mar  3 10:17:40 bastion sshd[1210]: Accepted password for bob from 2001:db8:85a3::8a2e:370:7334 port 61000 ssh2
Mar  3 10:18:02 bastion CRON[1302]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)
Mar  3 10:19:55 bastion sshd[1220]: Accepted keyboard-interactive/pam for carol from 192.0.2.44 port 50022 ssh2
2024-03-03T10:20:01.123456+00:00 bastion sshd-session[1230]: Accepted publickey for dave from 192.0.2.45 port 50023 ssh2: RSA SHA256:abc
Mar  3 10:21:00 bastion sshd[1240]: message repeated 2 times: [ Failed password for root from 198.51.100.23 port 40031 ssh2]
"""

# Apache's LogFormat "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\"" combined, with
# nginx's "$http_x_forwarded_for" appended on the proxied lines.
ACCESS_LOG = """\
203.0.113.7 - alice [10/Oct/2024:13:55:36 -0700] "GET /app/ HTTP/1.1" 200 2326 "https://example.com/" "Mozilla/5.0 (X11; Linux x86_64)"
198.51.100.9 - - [10/Oct/2024:13:55:37 -0700] "GET /favicon.ico HTTP/1.1" 404 209 "-" "Mozilla/5.0"
198.51.100.10 - mallory [10/Oct/2024:13:55:38 -0700] "GET /admin HTTP/1.1" 401 381 "-" "curl/8.5.0"
2001:db8::17 - bob [10/Oct/2024:13:56:01 -0700] "POST /api/items HTTP/2.0" 201 17 "-" "python-requests/2.32 \\"x\\""
10.0.0.2 - carol [10/Oct/2024:13:57:12 -0700] "GET /app/report HTTP/1.1" 200 9000 "-" "Mozilla/5.0" "192.0.2.44, 10.0.0.1"
10.0.0.2 - dave [10/Oct/2024:13:57:13 -0700] "GET /app/ HTTP/1.1" 200 512 "-" "Mozilla/5.0" "-"
192.0.2.50 - erin [10/Oct/2024:13:58:00 -0700] "GET /app/ HTTP/1.0" 200 512
"""


def _cloudtrail(records: list[dict]) -> str:
    return json.dumps({"Records": records})


def _event(identity: dict, ip: str, name: str = "ConsoleLogin") -> dict:
    return {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": "2024-10-10T13:55:36Z",
        "eventSource": "signin.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": ip,
        "userAgent": "Mozilla/5.0",
    }


CLOUDTRAIL_RECORDS = [
    _event(
        {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE1",
            "arn": "arn:aws:iam::111122223333:user/alice",
            "accountId": "111122223333",
            "userName": "alice",
        },
        "203.0.113.7",
    ),
    _event(
        {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLE:bob@example.com",
            "arn": "arn:aws:sts::111122223333:assumed-role/Admin/bob@example.com",
        },
        "2001:db8::1",
        "DescribeInstances",
    ),
    _event({"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}, "ec2.amazonaws.com", "AssumeRole"),
    _event(
        {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLE:i-0abc",
            "arn": "arn:aws:sts::111122223333:assumed-role/Lambda/x",
        },
        "AWS Internal",
        "GetObject",
    ),
    _event({"type": "Root", "principalId": "111122223333"}, "198.51.100.4"),
    _event({"type": "IAMUser", "userName": "carol"}, "192.0.2.44"),
]


def _write(path: Path, text: str, *, gz: bool = False) -> Path:
    data = text.encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def _expected(pairs, entities, ips):
    ok, hi, lo = parse_ips(ips)
    assert ok.all()
    assert pairs.entity_hash.tolist() == hash_entities(entities).tolist()
    assert pairs.ip_hi.tolist() == hi.tolist() and pairs.ip_lo.tolist() == lo.tolist()


# -- sshd -------------------------------------------------------------------------------------


def test_sshd_reads_accepted_logins_of_every_method_and_prefix_including_ipv6(tmp_path):
    warn = io.StringIO()
    pairs = read_log(_write(tmp_path / "auth.log", AUTH_LOG), "sshd", warn=warn)
    _expected(
        pairs,
        ["alice", "bob", "carol", "dave"],
        ["203.0.113.7", "2001:db8:85a3::8a2e:370:7334", "192.0.2.44", "192.0.2.45"],
    )
    assert pairs.report.num_ipv6_rows == 1 and pairs.report.num_bad_rows == 0
    assert "3 failed logins (--format sshd-all reads them)" in warn.getvalue()


def test_sshd_all_adds_failed_logins_with_the_tried_user_name(tmp_path):
    columns = read_log_columns(_write(tmp_path / "auth.log", AUTH_LOG), "sshd-all")
    assert columns.entities == ["alice", "admin", "root", "bob", "carol", "dave", "root"]
    assert columns.ips[1:3] == ["198.51.100.23", "198.51.100.23"]
    assert list(columns.lines) == [1, 3, 4, 5, 7, 8, 9]


def test_sshd_reads_a_directory_of_rotated_and_gzipped_files_in_name_order(tmp_path):
    folder = tmp_path / "log"
    folder.mkdir()
    _write(folder / "auth.log", AUTH_LOG)
    _write(folder / "auth.log.1", AUTH_LOG.replace("alice", "alice1"))
    _write(folder / "auth.log.2.gz", AUTH_LOG.replace("alice", "alice2"), gz=True)
    columns = read_log_columns(folder, "sshd")
    assert [e for e in columns.entities if e.startswith("alice")] == ["alice", "alice1", "alice2"]
    assert [name for _, name in columns.files] == [
        str(folder / n) for n in ("auth.log", "auth.log.1", "auth.log.2.gz")
    ]
    assert len(read_log(folder, "sshd", warn=io.StringIO())) == 12


def test_sshd_without_logins_says_what_it_saw_and_hints_at_the_format(tmp_path):
    path = _write(tmp_path / "syslog", "Mar  3 10:18:02 h CRON[1]: job\n" * 3)
    with pytest.raises(
        DataError,
        match=r"no logins found in the sshd input \(3 lines without an sshd Accepted/Failed message; is this the right --format\?\)",
    ):
        read_log(path, "sshd", warn=io.StringIO())


def test_sshd_reports_a_bad_address_with_file_line_and_reason(tmp_path):
    text = AUTH_LOG + "Mar  3 10:22:00 h sshd[9]: Accepted password for eve from 10.0.0.300 port 22 ssh2\n"
    warn = io.StringIO()
    pairs = read_log(_write(tmp_path / "auth.log", text), "sshd", warn=warn, max_bad_fraction=0.5)
    assert len(pairs) == 4 and pairs.report.num_bad_rows == 1
    assert (
        f"{tmp_path / 'auth.log'} line 10: '10.0.0.300' is not an IP address (line skipped; 1 bad so far)"
        in warn.getvalue()
    )
    with pytest.raises(
        DataError, match=r"1 of 5 logins are bad \(20.00 % > the 1 % limit; first: .*auth.log line 10"
    ):
        read_log(tmp_path / "auth.log", "sshd", warn=io.StringIO())


# -- combined / common ------------------------------------------------------------------------


def test_combined_reads_the_authenticated_user_and_skips_missing_users_and_401s(tmp_path):
    warn = io.StringIO()
    pairs = read_log(_write(tmp_path / "access.log", ACCESS_LOG), "combined", warn=warn)
    _expected(
        pairs,
        ["alice", "bob", "carol", "dave", "erin"],
        ["203.0.113.7", "2001:db8::17", "10.0.0.2", "10.0.0.2", "192.0.2.50"],
    )
    assert (
        "2 lines hold no login and were skipped: 1 without a user (%u is -), 1 answered 401"
        in warn.getvalue()
    )


def test_combined_with_x_forwarded_for_takes_its_first_address_else_the_client(tmp_path):
    columns = read_log_columns(
        _write(tmp_path / "access.log", ACCESS_LOG), "combined", ip_field="x-forwarded-for"
    )
    assert columns.ips == ["203.0.113.7", "2001:db8::17", "192.0.2.44", "10.0.0.2", "192.0.2.50"]


def test_combined_reports_a_line_that_is_not_an_access_log_line(tmp_path):
    text = ACCESS_LOG * 30 + "this is not an access log line\n"
    warn = io.StringIO()
    pairs = read_log(_write(tmp_path / "access.log", text), "combined", warn=warn)
    assert len(pairs) == 150 and pairs.report.num_bad_rows == 1
    assert "access.log line 211: not in common or combined log format" in warn.getvalue()


def test_combined_refuses_an_entity_field_and_an_unknown_ip_field(tmp_path):
    path = _write(tmp_path / "access.log", ACCESS_LOG)
    with pytest.raises(ConfigError, match="--format combined has fixed fields"):
        read_log(path, "combined", entity_field="user")
    with pytest.raises(ConfigError, match="remote_addr .* or x-forwarded-for"):
        read_log(path, "combined", ip_field="cookie")


# -- CloudTrail -------------------------------------------------------------------------------


def test_cloudtrail_reads_delivered_json_gz_and_skips_service_addresses(tmp_path):
    path = _write(
        tmp_path / "111122223333_CloudTrail_us-east-1_20241010T1355Z_abc.json.gz",
        _cloudtrail(CLOUDTRAIL_RECORDS),
        gz=True,
    )
    warn = io.StringIO()
    pairs = read_log(path, "cloudtrail", warn=warn)
    _expected(
        pairs,
        [
            "arn:aws:iam::111122223333:user/alice",
            "arn:aws:sts::111122223333:assumed-role/Admin/bob@example.com",
            "111122223333",
            "carol",
        ],
        ["203.0.113.7", "2001:db8::1", "198.51.100.4", "192.0.2.44"],
    )
    assert "2 records hold no login and were skipped: 2 called by an AWS service" in warn.getvalue()


def test_cloudtrail_reads_pretty_printed_files_and_one_event_per_line(tmp_path):
    pretty = _write(tmp_path / "pretty.json", json.dumps({"Records": CLOUDTRAIL_RECORDS}, indent=2))
    lines = _write(tmp_path / "events.jsonl", "".join(json.dumps(r) + "\n" for r in CLOUDTRAIL_RECORDS))
    assert read_log_columns(pretty, "cloudtrail").entities == read_log_columns(lines, "cloudtrail").entities
    assert len(read_log_columns(pretty, "cloudtrail")) == 4


def test_cloudtrail_reports_a_record_without_a_source_address_by_record_number(tmp_path):
    records = [*CLOUDTRAIL_RECORDS * 30, {"eventName": "X", "userIdentity": {"arn": "a"}}]
    warn = io.StringIO()
    pairs = read_log(_write(tmp_path / "ct.json", _cloudtrail(records)), "cloudtrail", warn=warn)
    assert len(pairs) == 120
    assert "ct.json record 181: no sourceIPAddress (record skipped; 1 bad so far)" in warn.getvalue()


# -- JSON Lines, CSV with a header, Parquet ---------------------------------------------------


def test_jsonl_takes_named_and_nested_fields(tmp_path):
    text = '{"user": {"name": "alice"}, "client_ip": "203.0.113.7"}\n\n{"user": {"name": "bob"}, "client_ip": "2001:db8::2"}\n'
    pairs = read_log(
        _write(tmp_path / "a.jsonl", text), "jsonl", entity_field="user.name", ip_field="client_ip"
    )
    _expected(pairs, ["alice", "bob"], ["203.0.113.7", "2001:db8::2"])


def test_jsonl_reports_bad_json_and_missing_fields(tmp_path):
    text = '{"entity": "a", "ip": "10.0.0.1"}\n{oops\n{"entity": "b"}\n'
    warn = io.StringIO()
    pairs = read_log(_write(tmp_path / "a.jsonl", text), "jsonl", warn=warn, max_bad_fraction=1.0)
    assert len(pairs) == 1
    assert "a.jsonl line 2: not valid JSON" in warn.getvalue()
    assert "a.jsonl line 3: no 'ip' value (--entity-field/--ip-field)" in warn.getvalue()


def test_csv_header_reads_quoted_fields_as_jq_writes_them(tmp_path):
    text = 'time,"user","source_ip"\n"2024-10-10","alice, admin","203.0.113.7"\n"2024-10-10","bo""b","::1"\n'
    pairs = read_log(
        _write(tmp_path / "a.csv", text), "csv-header", entity_field="user", ip_field="source_ip"
    )
    _expected(pairs, ["alice, admin", 'bo"b'], ["203.0.113.7", "::1"])


def test_csv_header_names_the_columns_when_a_field_is_missing(tmp_path):
    with pytest.raises(
        DataError, match=r"a.csv: the header has no column 'ip' \(--ip-field\); its columns are user, addr"
    ):
        read_log(_write(tmp_path / "a.csv", "user,addr\nalice,10.0.0.1\n"), "csv-header", entity_field="user")


def test_parquet_reads_named_columns(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "logins.parquet"
    pq.write_table(
        pa.table({"user": ["alice", "bob"], "ip": ["203.0.113.7", "2001:db8::3"], "n": [1, 2]}), path
    )
    pairs = read_log(path, "parquet", entity_field="user")
    _expected(pairs, ["alice", "bob"], ["203.0.113.7", "2001:db8::3"])


def test_parquet_without_pyarrow_names_the_extra(tmp_path):
    code = (
        "import sys; sys.modules['pyarrow'] = None\n"
        "import importlib.util; importlib.util.find_spec = lambda name, *a: None\n"
        "from ipinsights.readers import read_log\n"
        f"read_log({str(tmp_path)!r}, 'parquet')\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "MissingExtraError: --format parquet needs PyArrow (the 'parquet' extra)" in run.stderr
    assert issubclass(MissingExtraError, ImportError)


# -- every format -----------------------------------------------------------------------------


def test_an_unknown_format_lists_the_formats():
    with pytest.raises(
        ConfigError,
        match="--format must be one of csv, sshd, sshd-all, combined, cloudtrail, jsonl, csv-header, parquet, got 'syslog'",
    ):
        read_log("x", "syslog")


def test_csv_format_is_the_headerless_reader(tmp_path):
    pairs = read_log(_write(tmp_path / "a.csv", "alice,10.0.0.1\n"), "csv")
    assert len(pairs) == 1 and np.array_equal(pairs.entity_hash, hash_entities(["alice"]))


# -- the CLI ----------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
CLI_HP = [
    "--hp",
    "num_entity_vectors=16",
    "--hp",
    "vector_dim=8",
    "--hp",
    "epochs=2",
    "--hp",
    "mini_batch_size=4",
]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ipinsights.cli", *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


def _sshd_log(path: Path, num_lines: int = 400) -> Path:
    rng = np.random.default_rng(0)
    lines = []
    for i in range(num_lines):
        user = f"user{i % 8}"
        ip = f"198.51.{i % 8}.{rng.integers(1, 250)}" if i % 5 else f"2001:db8:{i % 8}::{i:x}"
        lines.append(
            f"Mar  3 10:{i // 60 % 60:02d}:{i % 60:02d} bastion sshd[{1000 + i}]: Accepted publickey for {user} from {ip} port {40000 + i} ssh2"
        )
        lines.append(
            f"Mar  3 10:{i // 60 % 60:02d}:{i % 60:02d} bastion sshd[{1000 + i}]: pam_unix(sshd:session): session opened for user {user}"
        )
    return _write(path, "\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def sshd_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sshd")
    log = _sshd_log(folder / "auth.log")
    result = _cli(
        "train", "--format", "sshd", "--train", str(log), "--model-dir", str(folder / "model"), *CLI_HP
    )
    return result, folder


def test_format_sshd_trains_from_an_auth_log(sshd_model):
    result, folder = sshd_model
    assert result.returncode == 0, result.stderr
    assert "trained on 400 rows (0 bad rows skipped, 8 entities)" in result.stderr
    assert (
        "400 lines hold no login and were skipped: 400 without an sshd Accepted/Failed message"
        in result.stderr
    )
    assert (folder / "model" / "model.json").exists()


def test_format_sshd_predict_scores_each_login_and_names_bad_lines_by_log_line(sshd_model, tmp_path):
    _, folder = sshd_model
    log = _write(
        tmp_path / "auth.log.1",
        AUTH_LOG + "Mar  3 10:22:00 h sshd[9]: Accepted password for eve from 10.0.0.300 port 22 ssh2\n",
    )
    result = _cli(
        "predict", "--format", "sshd-all", "--model-dir", str(folder / "model"), "--input", str(log)
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 8 and all(isinstance(r["dot_product"], float) for r in records[:7])
    assert records[7]["row"] == 10 and records[7]["error"] == "'10.0.0.300' is not an IP address"


def test_format_sshd_evaluate_reads_normal_and_train_logs(sshd_model, tmp_path):
    _, folder = sshd_model
    attack = _write(tmp_path / "attack.csv", "".join(f"user{i % 8},203.0.113.{i}\n" for i in range(40)))
    normal = _sshd_log(tmp_path / "auth.log.1", 80)
    result = _cli(
        "evaluate",
        "--format",
        "sshd",
        "--model-dir",
        str(folder / "model"),
        "--normal",
        str(normal),
        "--train",
        str(folder / "auth.log"),
        "--attack",
        f"far={attack}",
        "--out",
        str(tmp_path / "ev"),
        "--no-plots",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "ev" / "report.json").read_text())
    assert str(normal) in json.dumps(report)


def test_format_combined_and_cloudtrail_train_from_their_samples(tmp_path):
    access = _write(tmp_path / "access.log", ACCESS_LOG * 20)
    trail = _write(tmp_path / "trail.json.gz", _cloudtrail(CLOUDTRAIL_RECORDS * 20), gz=True)
    for fmt, path in (("combined", access), ("cloudtrail", trail)):
        result = _cli(
            "train", "--format", fmt, "--train", str(path), "--model-dir", str(tmp_path / fmt), *CLI_HP
        )
        assert result.returncode == 0, result.stderr
        assert "trained on" in result.stderr


def test_format_errors_are_one_line(tmp_path):
    path = _write(tmp_path / "a.csv", "user,addr\nalice,10.0.0.1\n")
    result = _cli(
        "train", "--format", "csv-header", "--train", str(path), "--model-dir", str(tmp_path / "m"), *CLI_HP
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"ipinsights: error: {path}: the header has no column 'entity' (--entity-field); its columns are user, addr"
    )


def test_warn_train_on_a_small_log_with_the_default_batch_prints_the_fix(tmp_path):
    log = _sshd_log(tmp_path / "auth.log", 200)
    result = _cli(
        "train",
        "--format",
        "sshd",
        "--train",
        str(log),
        "--model-dir",
        str(tmp_path / "m"),
        "--hp",
        "num_entity_vectors=16",
        "--hp",
        "vector_dim=8",
        "--hp",
        "epochs=1",
    )
    assert result.returncode == 0, result.stderr
    assert (
        "ipinsights train: warning: mini_batch_size=10000 gives 1 step per epoch on 200 rows (fewer than 100 "
        "steps: the model barely trains); set --hp mini_batch_size=2 or lower"
    ) in result.stderr


def test_the_python_api_reads_a_log_format_and_fits_on_it(tmp_path):
    import ipinsights

    log = _sshd_log(tmp_path / "auth.log", 200)
    pairs = ipinsights.read_log(log, format="sshd", warn=io.StringIO())
    assert len(pairs) == 200 and pairs.report.num_distinct_entities == 8 and pairs.report.num_ipv6_rows == 40
    model = ipinsights.IPInsights(num_entity_vectors=16, vector_dim=8, epochs=1, mini_batch_size=20)
    model.fit(pairs, log=None, progress=False)
    assert model.known_entities(["user3", "nobody"]).tolist() == [True, False]
    assert "sshd" in ipinsights.FORMATS and "parquet" in ipinsights.FORMATS


def test_fit_reads_a_log_format_from_paths(tmp_path):
    from ipinsights import IPInsights

    train = _sshd_log(tmp_path / "auth.log.1", 200)
    validation = _sshd_log(tmp_path / "auth.log", 40)
    model = IPInsights(num_entity_vectors=16, vector_dim=8, epochs=1, mini_batch_size=20)
    model.fit(train, validation=validation, format="sshd", log=None, progress=False)
    assert model.meta_["training_data"]["rows"] == 200 and model.meta_["validation_data"]["rows"] == 40
    empty = _write(tmp_path / "empty.jsonl", "\n")
    with pytest.raises(DataError, match="no logins found in the jsonl input"):
        model.fit(empty, format="jsonl", log=None)


# ---------------------------------------------------------------------------------------------
# as_pairs: the one adapter of fit, the baselines and evaluate


def test_as_pairs_takes_a_frames_entity_and_ip_columns_by_name_else_its_two_columns():
    import pandas as pd

    named = pd.DataFrame({"ip": ["10.0.0.1", "::1"], "timestamp": [0, 1], "entity": ["alice", "bob"]})
    plain = pd.DataFrame({"user": ["alice", "bob"], "address": ["10.0.0.1", "::1"]})
    by_name, by_position = as_pairs(named, "train"), as_pairs(plain, "train")
    assert by_name.entity_hash.tolist() == by_position.entity_hash.tolist() == hash_entities(["alice", "bob"]).tolist()
    assert by_name.ip_lo.tolist() == by_position.ip_lo.tolist() == parse_ips(["10.0.0.1", "::1"])[2].tolist()
    assert by_name.report.source == "train DataFrame"
    assert as_pairs(by_name, "train") is by_name


@pytest.mark.parametrize(
    ("columns", "rows", "message"),
    [
        (["user", "address", "extra"], 1, r"train: a DataFrame needs exactly 2 columns \(entity, ip\) or columns named"),
        (["entity", "ip"], 0, "train: the DataFrame has 0 rows"),
    ],
)
def test_as_pairs_refuses_a_frame_of_another_shape_or_without_rows(columns, rows, message):
    import pandas as pd

    frame = pd.DataFrame([["alice", "10.0.0.1", 1][: len(columns)]] * rows, columns=columns)
    with pytest.raises(DataError, match=message):
        as_pairs(frame, "train")


def test_as_pairs_reads_paths_in_the_format_given_and_streams_as_csv(tmp_path):
    log = _sshd_log(tmp_path / "auth.log", 20)
    assert len(as_pairs(log, "train", format="sshd")) == 20
    assert len(as_pairs(io.BytesIO(b"alice,10.0.0.1\n"), "train")) == 1
    with pytest.raises(DataError, match="train: expected Pairs, a DataFrame .* got list"):
        as_pairs([("alice", "10.0.0.1")], "train")
