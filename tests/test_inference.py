"""Request parsing and response formatting shared by ``ipinsights predict`` and the HTTP endpoint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import make_logins, write_csv

from ipinsights import IPInsights, cli
from ipinsights.addresses import parse_ips
from ipinsights.entities import hash_entities
from ipinsights.inference import (
    MediaType,
    NotAcceptableError,
    RequestError,
    UnsupportedMediaTypeError,
    format_predictions,
    parse_media_type,
    parse_request,
)

RESPONSES = ("application/json", "application/jsonlines")
REQUESTS = ("text/csv", "application/json", "application/jsonlines")


def accept(value: str | None) -> MediaType:
    return parse_media_type(value, allowed=RESPONSES, default="application/json", what="Accept")


# -- media types ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "  ", "*/*", "application/*"])
def test_an_absent_or_wildcard_accept_means_the_default(value):
    assert accept(value) == MediaType("application/json", verbose=False)


@pytest.mark.parametrize(
    "value", ["application/json; verbose=True", "application/json;verbose=true", "APPLICATION/JSON; VERBOSE=TRUE",
              'application/json; verbose="True"', "application/json; charset=utf-8; verbose=True"],
)  # fmt: skip
def test_verbose_is_read_in_any_case_and_with_other_parameters(value):
    assert accept(value) == MediaType("application/json", verbose=True)


@pytest.mark.parametrize(
    "value", ["application/json; verbose=False", "application/json; verbose=1", "application/json; verbose"]
)
def test_anything_but_verbose_true_is_not_verbose(value):
    assert accept(value).verbose is False


@pytest.mark.parametrize(
    "alias", ["application/jsonlines", "application/x-jsonlines", "application/jsonl", "application/x-ndjson"]
)
def test_json_lines_has_its_common_aliases(alias):
    assert accept(alias).type == "application/jsonlines"


def test_the_first_supported_entry_of_an_accept_list_wins():
    assert accept("text/html, application/jsonlines; verbose=True, application/json") == MediaType(
        "application/jsonlines", verbose=True
    )


def test_an_unsupported_accept_is_not_acceptable_and_lists_what_is():
    with pytest.raises(
        NotAcceptableError,
        match=r"Accept 'text/html' is not supported; use one of: application/json, application/jsonlines",
    ):
        accept("text/html")
    assert issubclass(NotAcceptableError, ValueError)


def test_an_unsupported_content_type_is_unsupported_and_lists_what_is():
    with pytest.raises(
        UnsupportedMediaTypeError, match=r"Content-Type 'text/plain' is not supported; use one of: text/csv, "
    ):
        parse_media_type("text/plain", allowed=REQUESTS, default="text/csv", what="Content-Type")
    assert (
        parse_media_type(
            "Text/CSV; charset=utf-8", allowed=REQUESTS, default="text/csv", what="Content-Type"
        ).type
        == "text/csv"
    )


# -- requests ---------------------------------------------------------------------------------


def hashed(rows: list[tuple[str, str]]):
    _, hi, lo = parse_ips([ip for _, ip in rows])
    return hash_entities([e for e, _ in rows]), hi, lo


def test_both_json_instance_forms_mixed_parse_to_the_same_rows_as_csv():
    rows = [("alice", "10.0.0.1"), ("bob", "2001:db8::1"), ("carol", "192.168.1.1")]
    body = json.dumps(
        {"instances": [
            {"features": list(rows[0])},
            {"data": {"features": {"values": list(rows[1])}}},
            {"features": list(rows[2])},
        ]}
    ).encode()  # fmt: skip
    parsed = parse_request(body, "application/json")
    csv = parse_request("".join(f"{e},{ip}\n" for e, ip in rows).encode(), "text/csv")
    entity_hash, hi, lo = hashed(rows)
    for request in (parsed, csv):
        assert request.ok.all() and request.errors == {} and request.row.tolist() == [1, 2, 3]
        assert np.array_equal(request.entity_hash, entity_hash)
        assert np.array_equal(request.ip_hi, hi) and np.array_equal(request.ip_lo, lo)


@pytest.mark.parametrize(
    ("instance", "reason"),
    [
        (
            {"features": ["a"]},
            'expected {"features": [entity, ip]} or {"data": {"features": {"values": [entity, ip]}}}',
        ),
        ({"data": {"features": ["a", "1.2.3.4"]}}, 'expected {"features": [entity, ip]}'),
        (["a", "1.2.3.4"], "an instance must be a JSON object with 'features' or 'data'"),
        ({"features": ["", "1.2.3.4"]}, "the entity must be a non-empty string"),
        ({"features": [True, "1.2.3.4"]}, "the entity must be a non-empty string"),
        ({"features": ["a", 16909060]}, "the IP address must be a string"),
        ({"features": ["a", "1.2.3.400"]}, "'1.2.3.400' is not an IP address"),
        ({"features": ["\ud800", "1.2.3.4"]}, "the entity or the IP address is not valid Unicode"),
    ],
)
def test_a_bad_json_instance_gets_a_row_error_and_the_others_are_kept(instance, reason):
    body = json.dumps({"instances": [{"features": ["a", "1.2.3.4"]}, instance]}).encode()
    request = parse_request(body, "application/json")
    assert request.ok.tolist() == [True, False]
    assert request.errors[1].startswith(reason)
    assert request.first_error().startswith(f"row 2: {reason}")


def test_a_numeric_json_entity_is_the_entity_named_by_its_digits():
    request = parse_request(b'{"instances": [{"features": [42, "1.2.3.4"]}]}', "application/json")
    assert request.entity_hash.tolist() == hash_entities(["42"]).tolist()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "the request body is empty"),
        (b" \n ", "the request body is empty"),
        (b'{"instances": [', "the body is not valid JSON (Expecting value: line 1 column 16)"),
        (b"[" * 100_000, "the body is not valid JSON (nested too deeply)"),
        (
            b'{"instances": [' + b"9" * 5000 + b"]}",
            "the body is not valid JSON (a number has more than 4300 digits)",
        ),
        (b"\xff\xfe\xfa", "the body is not valid JSON"),
        (b'[{"features": ["a", "1.2.3.4"]}]', 'a JSON request must be {"instances": [...]}'),
        (b'{"instances": {"features": []}}', 'a JSON request must be {"instances": [...]}'),
        (b'{"instances": []}', '"instances" is empty; send at least one instance'),
    ],
)
def test_a_json_body_that_cannot_be_read_as_a_whole_is_a_request_error(body, message):
    with pytest.raises(RequestError) as caught:
        parse_request(body, "application/json")
    assert str(caught.value).startswith(message)


def test_a_bad_json_line_gets_an_error_with_its_line_number_and_blank_lines_count():
    body = (
        b'{"features": ["a", "1.2.3.4"]}\n\nnot json\n{"data": {"features": {"values": ["b", "::1"]}}}\n'
        + b"[" * 100_000
    )
    request = parse_request(body, "application/jsonlines")
    assert request.row.tolist() == [1, 3, 4, 5]
    assert request.ok.tolist() == [True, False, True, False]
    assert request.errors[1].startswith("not valid JSON (Expecting value: line 1 column 1")
    assert request.errors[3] == "not valid JSON (nested too deeply)"
    with pytest.raises(RequestError, match="the body is not UTF-8"):
        parse_request(b'{"features": ["\xff", "1.2.3.4"]}', "application/jsonlines")


def test_bad_csv_rows_get_their_line_and_reason_and_good_rows_are_kept():
    body = b" alice , 10.0.0.1 \r\nbob,10.0.0.300\n\na,b,c\n,1.2.3.4\n\xff,1.2.3.4\ncarol,::1\n"
    request = parse_request(body, "text/csv")
    assert request.row.tolist() == [1, 2, 4, 5, 6, 7]
    assert request.ok.tolist() == [True, False, False, False, False, True]
    assert request.errors == {
        1: "'10.0.0.300' is not an IP address",
        2: "expected 2 columns (entity,ip), got 3",
        3: "empty entity",
        4: "not valid UTF-8",
    }
    assert request.entity_hash[0] == hash_entities(["alice"])[0]


def test_every_bad_row_of_a_large_request_has_a_reason():
    request = parse_request(b"a,b,c\n" * 1001 + b"x,1.2.3\n" * 1001, "text/csv")
    assert len(request.errors) == 2002
    assert request.errors[0] == "expected 2 columns (entity,ip), got 3"
    assert request.errors[1500] in ("'1.2.3' is not an IP address", "not an IP address")


def test_hardening_4_a_request_of_one_huge_entity_or_of_leading_spaces_parses_exactly():
    # 40 s and 58 s of CPU at 6 MB before; benchmarks/parse_adversarial.py times them.
    size = 2 * 1024 * 1024
    huge = parse_request(b"x" * size + b",1.2.3.4\n", "text/csv")
    spaces = parse_request(b" " * size + b"user_1,1.2.3.4\n", "text/csv")
    as_json = parse_request(json.dumps({"instances": [{"features": [" " * size + "x" * size, "1.2.3.4"]}]}).encode(), "application/json")
    assert huge.ok.all() and spaces.ok.all() and as_json.ok.all()
    assert huge.entity_hash[0] == as_json.entity_hash[0] == hash_entities(["x" * size])[0]
    assert spaces.entity_hash[0] == hash_entities(["user_1"])[0]


def test_hardening_9_a_csv_body_with_a_byte_order_mark_scores_its_first_row_as_the_entity():
    request = parse_request(b"\xef\xbb\xbfuser_1,18.13.7.9\nuser_1,18.13.7.9\n", "text/csv")
    assert request.ok.all() and request.entity_hash.tolist() == hash_entities(["user_1"] * 2).tolist()


def test_hardening_9_quoted_csv_fields_are_unquoted_in_a_request():
    request = parse_request(b'"user_1",18.13.7.9\n"user,1","18.13.7.9"\n"a""b",::1\n', "text/csv")
    assert request.ok.all()
    assert request.entity_hash.tolist() == hash_entities(["user_1", "user,1", 'a"b']).tolist()


@pytest.mark.parametrize("content_type", REQUESTS)
def test_hardening_9_control_characters_in_an_entity_and_ipv6_zone_ids_are_row_errors(content_type):
    rows = [("user\x00", "1.2.3.4"), ("user_1", "fe80::1%eth0"), ("user_1", "1.2.3.4")]
    if content_type == "text/csv":
        body = "".join(f"{e},{ip}\n" for e, ip in rows).encode()
    elif content_type == "application/json":
        body = json.dumps({"instances": [{"features": list(r)} for r in rows]}).encode()
    else:
        body = "".join(json.dumps({"features": list(r)}) + "\n" for r in rows).encode()
    request = parse_request(body, content_type)
    assert request.ok.tolist() == [False, False, True]
    assert request.errors[0] == "the entity contains the control character 0x00"
    assert request.errors[1].startswith("'fe80::1%eth0' is not an IP address (an IPv6 zone id such as %eth0")


# -- responses --------------------------------------------------------------------------------


def test_json_predictions_have_the_documented_shape_and_error_records():
    data = format_predictions(
        np.float32([0.5, -1.25, np.nan]),
        np.array([True, False, True]),
        MediaType("application/json"),
        ok=np.array([True, False, True]),
        row=np.array([1, 3, 4]),
        errors={1: 'bad "ip"'},
    )
    assert json.loads(data) == {
        "predictions": [
            {"dot_product": 0.5, "known_entity": True},
            {"dot_product": None, "known_entity": None, "error": 'bad "ip"', "row": 3},
            {"dot_product": None, "known_entity": True},
        ]
    }


def test_json_lines_predictions_are_one_object_a_line_ending_with_a_newline():
    data = format_predictions(
        np.float32([0.1, 2.0]), np.array([True, False]), MediaType("application/jsonlines")
    )
    assert (
        data
        == b'{"dot_product": 0.10000000149011612, "known_entity": true}\n{"dot_product": 2.0, "known_entity": false}\n'
    )
    assert np.float32(json.loads(data.splitlines()[0])["dot_product"]) == np.float32(0.1)


def test_verbose_predictions_carry_both_embeddings_in_order():
    data = format_predictions(
        np.float32([1.0, 2.0]),
        np.array([True, True]),
        MediaType("application/json", verbose=True),
        entity_embedding=np.float32([[1, 2], [3, 4]]),
        ip_embedding=np.float32([[5, 6], [7, np.inf]]),
    )
    first, second = json.loads(data)["predictions"]
    assert list(first) == ["dot_product", "known_entity", "entity_embedding", "ip_embedding"]
    assert first["entity_embedding"] == [1.0, 2.0] and first["ip_embedding"] == [5.0, 6.0]
    assert second["ip_embedding"] == [7.0, float("inf")]  # non-finite values as Python's json writes them


def test_csv_predictions_are_score_known_error_rows():
    data = format_predictions(
        np.float32([0.5, 0.0]),
        np.array([False, True]),
        MediaType("text/csv"),
        ok=np.array([True, False]),
        row=np.array([1, 2]),
        errors={1: 'no "ip"'},
    )
    assert data == b'0.5,false,\n,,"row 2: no ""ip"""\n'


@pytest.mark.parametrize(
    ("media_type", "expected"),
    [("application/json", b'{"predictions": []}'), ("application/jsonlines", b"\n"), ("text/csv", b"\n")],
)
def test_no_rows_give_an_empty_answer_of_the_right_type(media_type, expected):
    assert format_predictions(np.zeros(0, np.float32), np.zeros(0, bool), MediaType(media_type)) == expected


# -- ipinsights predict -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("inference")
    train = write_csv(root / "train.csv", make_logins(30, 20, seed=3))
    return (
        IPInsights(num_entity_vectors=100, vector_dim=8, epochs=2, mini_batch_size=64)
        .fit(train, log=None)
        .save(root / "model")
    )


def predict(model_dir: Path, *args: str, stdin: bytes) -> subprocess.CompletedProcess:
    """``ipinsights predict`` in its own process, as a user runs it."""
    command = [
        sys.executable,
        "-m",
        "ipinsights.cli",
        "predict",
        "--model-dir",
        str(model_dir),
        "--input",
        "-",
    ]
    return subprocess.run([*command, *args], input=stdin, capture_output=True, timeout=120)


def predict_here(model_dir: Path, tmp_path: Path, *args: str, rows: bytes) -> bytes:
    """``ipinsights predict`` through ``cli.main`` in this process (no interpreter start)."""
    source, target = tmp_path / "in", tmp_path / "out"
    source.write_bytes(rows)
    command = ["predict", "--model-dir", str(model_dir), "--input", str(source), "--output", str(target)]
    assert cli.main([*command, *args]) == 0
    return target.read_bytes()


ROWS = [("user_1", "18.13.7.9"), ("mallory", "2001:db8::1"), ("user_2", "25.26.1.200")]


def test_predict_writes_every_format_in_input_order_with_the_models_scores(model_dir, tmp_path):
    rows = b"".join(f"{e},{ip}\n".encode() for e, ip in ROWS)
    instances = json.dumps({"instances": [{"features": list(r)} for r in ROWS]}).encode()
    model = IPInsights.load(model_dir)
    want = model.score_hashed(*hashed(ROWS))
    result = predict(model_dir, stdin=rows)
    assert result.returncode == 0 and result.stderr == b""
    jsonl = [json.loads(line) for line in result.stdout.splitlines()]
    json_args = ["--accept", "application/json", "--content-type", "application/json"]
    json_doc = json.loads(predict_here(model_dir, tmp_path, *json_args, rows=instances))["predictions"]
    csv_text = predict_here(model_dir, tmp_path, "--accept", "text/csv", rows=rows).decode()
    csv = [line.split(",") for line in csv_text.splitlines()]
    for predictions in (jsonl, json_doc):
        assert [list(p) for p in predictions] == [["dot_product", "known_entity"]] * len(ROWS)
        np.testing.assert_allclose(
            np.float32([p["dot_product"] for p in predictions]), want.dot_product, rtol=1e-5, atol=1e-6
        )
        assert [p["known_entity"] for p in predictions] == [True, False, True]
    assert [c[1:] for c in csv] == [["true", ""], ["false", ""], ["true", ""]]
    np.testing.assert_allclose(np.float32([c[0] for c in csv]), want.dot_product, rtol=1e-5, atol=1e-6)


def test_predict_verbose_adds_both_embeddings_of_vector_dim(model_dir, tmp_path):
    prediction = json.loads(predict_here(model_dir, tmp_path, "--verbose", rows=b"user_1,18.13.7.9\n"))
    assert list(prediction) == ["dot_product", "known_entity", "entity_embedding", "ip_embedding"]
    assert len(prediction["entity_embedding"]) == len(prediction["ip_embedding"]) == 8
    dot = np.dot(np.float32(prediction["entity_embedding"]), np.float32(prediction["ip_embedding"]))
    assert dot == pytest.approx(prediction["dot_product"], abs=1e-5)


def test_predict_gives_bad_rows_an_error_record_and_scores_the_good_ones(model_dir):
    result = predict(model_dir, stdin=b"user_1,18.13.7.9\nuser_2,999.1.1.1\n\nx,y,z\nuser_2,25.26.1.200\n")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 0 and len(lines) == 4
    assert lines[1] == {
        "dot_product": None,
        "known_entity": None,
        "error": "'999.1.1.1' is not an IP address",
        "row": 2,
    }
    assert lines[2] == {
        "dot_product": None,
        "known_entity": None,
        "error": "expected 2 columns (entity,ip), got 3",
        "row": 4,
    }
    assert isinstance(lines[0]["dot_product"], float) and isinstance(lines[3]["dot_product"], float)
    assert result.stderr.decode() == (
        "ipinsights: 2 of 4 rows could not be scored (first: row 2: '999.1.1.1' is not an IP address)\n"
    )


def test_small_plain_csv_bodies_take_a_short_path_that_parses_exactly_as_the_vectorised_one():
    from ipinsights.data import parse_csv_bytes
    from ipinsights.inference import _parse_plain_rows

    rng = np.random.default_rng(7)
    printable = [chr(c) for c in range(0x21, 0x7F) if chr(c) not in '",']
    for _ in range(200):
        n = int(rng.integers(1, 17))
        rows = []
        for _ in range(n):
            entity = "".join(rng.choice(printable, int(rng.integers(1, 30))))
            ip = ".".join(str(x) for x in rng.choice([0, 1, 9, 10, 99, 100, 199, 200, 249, 250, 255], 4))
            rows.append(f"{entity},{ip}")
        body = ("\n".join(rows) + ("\n" if rng.random() < 0.5 else "")).encode()
        fast, full = _parse_plain_rows(body), parse_csv_bytes(body)
        assert fast is not None and (full.error == 0).all()
        for got, want in [(fast.entity_hash, full.entity_hash), (fast.ip_hi, full.ip_hi), (fast.ip_lo, full.ip_lo),
                          (fast.row, full.line)]:  # fmt: skip
            assert got.dtype == want.dtype and np.array_equal(got, want)


@pytest.mark.parametrize(
    "body",
    [b"a,1.2.3.04\n", b"a ,1.2.3.4\n", b'"a",1.2.3.4\n', b"a,1.2.3.4\r\n", b"a,1.2.3.4\n\nb,1.2.3.4\n", b"a,::1\n",
     b"a,1.2.3.256\n", "\u00e9,1.2.3.4\n".encode(), b"a,1.2.3.4,x\n", b"a,1.2.3.4\n" * 17],
)  # fmt: skip
def test_anything_but_a_few_plain_rows_takes_the_vectorised_parser(body):
    from ipinsights.inference import _parse_plain_rows

    assert _parse_plain_rows(body) is None
    assert len(parse_request(body, "text/csv")) >= 1  # and is parsed there, good or bad rows
