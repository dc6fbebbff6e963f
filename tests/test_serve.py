"""``ipinsights serve`` as a client meets it: real server processes on loopback ports, over HTTP."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import make_logins, write_csv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ipinsights import IPInsights, cli
from ipinsights.addresses import parse_ips
from ipinsights.entities import hash_entities

CLI = "import sys; from ipinsights import cli; sys.exit(cli.main(sys.argv[1:]))"
VECTOR_DIM = 8
ROWS = [
    ("user_1", "18.13.7.9"),
    ("user_2", "25.26.1.200"),
    ("mallory", "2001:db8::1"),
    ("user_1", "200.1.2.3"),
]
CSV_BODY = "".join(f"{e},{ip}\n" for e, ip in ROWS).encode()
#: The lenient server's payload limit: --max-payload-mb 0.01.
SMALL_LIMIT = int(0.01 * 2**20)


@dataclass
class Server:
    url: str
    port: int
    log: Path
    process: subprocess.Popen

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(
    log: Path, *args: str, env: dict[str, str] | None = None, code: str = CLI
) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-c", code, "serve", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )


def wait_until_serving(server: Server, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"the server exited with {server.process.returncode}:\n{server.log_text()}")
        try:
            if httpx.get(f"{server.url}/ping", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"the server did not answer /ping within {timeout} s:\n{server.log_text()}")


def stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("serve")
    train = write_csv(root / "train.csv", make_logins(30, 20, seed=3))
    model = IPInsights(num_entity_vectors=100, vector_dim=VECTOR_DIM, epochs=2, mini_batch_size=64)
    return model.fit(train, log=None).save(root / "model")


@pytest.fixture(scope="module")
def model(model_dir: Path) -> IPInsights:
    return IPInsights.load(model_dir)


@pytest.fixture(scope="module")
def servers(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    """Two servers, started together: `strict` with the defaults, and `lenient` with per-row
    errors, two workers, a 0.01 MB payload limit and its port from SAGEMAKER_BIND_TO_PORT."""
    root = tmp_path_factory.mktemp("servers")
    strict_port, lenient_port = free_port(), free_port()
    with ExitStack() as stack:
        found = {}
        for name, port, args, env in [
            ("strict", strict_port, ["--port", str(strict_port)], None),
            (
                "lenient",
                lenient_port,
                ["--row-errors", "--workers", "2", "--max-payload-mb", "0.01"],
                {"SAGEMAKER_BIND_TO_PORT": str(lenient_port)},
            ),
        ]:
            log = root / f"{name}.log"
            process = start_server(log, "--model-dir", str(model_dir), *args, env=env)
            found[name] = Server(f"http://127.0.0.1:{port}", port, log, process)
            stack.callback(stop, found[name])
        for server in found.values():
            wait_until_serving(server)
        yield found


@pytest.fixture(scope="module")
def strict(servers: dict[str, Server]) -> Server:
    return servers["strict"]


@pytest.fixture(scope="module")
def lenient(servers: dict[str, Server]) -> Server:
    return servers["lenient"]


def expected(model: IPInsights, rows: list[tuple[str, str]]):
    ok, hi, lo = parse_ips([ip for _, ip in rows])
    assert ok.all()
    return model.score_hashed(hash_entities([e for e, _ in rows]), hi, lo, embeddings=True)


def post(
    server: Server,
    body: bytes,
    content_type: str | None,
    accept: str | None = None,
    client: httpx.Client | None = None,
) -> httpx.Response:
    headers = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if accept is not None:
        headers["Accept"] = accept
    return (client or httpx).post(f"{server.url}/invocations", content=body, headers=headers, timeout=60)


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line]


def assert_same_numbers(got: list[float], want: np.ndarray) -> None:
    """Equal to float32 rounding: the CPU's matrix kernels round a row differently in another batch."""
    np.testing.assert_allclose(np.float32(got), want, rtol=1e-5, atol=1e-6)


def assert_scores(predictions: list[dict], model: IPInsights, rows: list[tuple[str, str]]) -> None:
    scores = expected(model, rows)
    assert [list(p) for p in predictions] == [["dot_product", "known_entity"]] * len(rows)
    assert_same_numbers([p["dot_product"] for p in predictions], scores.dot_product)
    assert [p["known_entity"] for p in predictions] == scores.known_entity.tolist()


# -- the protocol -----------------------------------------------------------------------------


def test_ping_answers_200_once_the_model_is_loaded(strict):
    assert httpx.get(f"{strict.url}/ping").status_code == 200


def test_csv_in_gives_the_documented_json_out_in_request_order(strict, model):
    response = post(strict, CSV_BODY, "text/csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    assert list(document) == ["predictions"]
    assert_scores(document["predictions"], model, ROWS)
    assert [p["known_entity"] for p in document["predictions"]] == [True, True, False, True]


def test_json_in_both_instance_forms_mixed_gives_json_lines_out(strict, model):
    instances = [
        {"features": list(ROWS[0])},
        {"data": {"features": {"values": list(ROWS[1])}}},
        {"features": list(ROWS[2])},
        {"data": {"features": {"values": list(ROWS[3])}}},
    ]
    response = post(
        strict, json.dumps({"instances": instances}).encode(), "application/json", "application/jsonlines"
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/jsonlines"
    assert response.text.endswith("\n") and len(response.text.splitlines()) == len(ROWS)
    assert_scores(json_lines(response.text), model, ROWS)


def test_json_lines_in_gives_json_out_and_blank_lines_are_skipped(strict, model):
    body = "\n".join(
        json.dumps({"features": list(r)} if i % 2 else {"data": {"features": {"values": list(r)}}})
        for i, r in enumerate(ROWS)
    )
    response = post(strict, (body + "\n\n").encode(), "application/jsonlines; charset=utf-8")
    assert response.status_code == 200
    assert_scores(response.json()["predictions"], model, ROWS)


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("application/json", "application/json"),
        ("application/jsonlines", "application/jsonlines"),
        ("text/html, application/jsonlines;q=0.9", "application/jsonlines"),
    ],
)
def test_the_accept_header_picks_json_or_json_lines_and_defaults_to_json(strict, accept, media_type):
    response = post(strict, CSV_BODY, "text/csv", accept)
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    predictions = (
        response.json()["predictions"] if media_type == "application/json" else json_lines(response.text)
    )
    assert len(predictions) == len(ROWS)


@pytest.mark.parametrize("verbose", ["verbose=True", "verbose=true", "VERBOSE=TRUE", 'verbose="True"'])
def test_verbose_in_any_case_adds_both_embeddings(strict, model, verbose):
    response = post(strict, CSV_BODY, "text/csv", f"application/json; {verbose}")
    assert response.status_code == 200
    predictions = response.json()["predictions"]
    scores = expected(model, ROWS)
    for p, entity_vector, ip_vector in zip(
        predictions, scores.entity_embedding, scores.ip_embedding, strict=True
    ):
        assert list(p) == ["dot_product", "known_entity", "entity_embedding", "ip_embedding"]
        assert len(p["entity_embedding"]) == len(p["ip_embedding"]) == VECTOR_DIM
        assert np.array_equal(np.float32(p["entity_embedding"]), entity_vector)
        assert_same_numbers(p["ip_embedding"], ip_vector)


def test_accept_text_csv_answers_the_rows_predict_writes(strict, model):
    response = post(strict, CSV_BODY + b"user_2,1.2.3\n", "text/csv", "text/csv")
    assert response.status_code == 400  # the strict server refuses a request with a bad row, whatever the Accept
    response = post(strict, CSV_BODY, "text/csv", "text/csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    lines = response.text.splitlines()
    scores = expected(model, ROWS)
    assert lines == [f"{float(d)!r},{str(k).lower()}," for d, k in zip(scores.dot_product, scores.known_entity, strict=True)]


def test_verbose_false_adds_nothing(strict):
    response = post(strict, CSV_BODY, "text/csv", "application/jsonlines; verbose=False")
    assert [list(p) for p in json_lines(response.text)] == [["dot_product", "known_entity"]] * len(ROWS)


def test_the_server_gives_the_same_numbers_as_ipinsights_predict(strict, model_dir, tmp_path):
    source = tmp_path / "rows.csv"
    source.write_bytes(CSV_BODY)
    predict = subprocess.run(
        [
            sys.executable,
            "-m",
            "ipinsights.cli",
            "predict",
            "--model-dir",
            str(model_dir),
            "--input",
            str(source),
        ],
        capture_output=True,
        check=True,
        timeout=120,
    )
    batch_file = json_lines(predict.stdout.decode())
    one_request = json_lines(post(strict, CSV_BODY, "text/csv", "application/jsonlines").text)
    one_at_a_time = [
        post(strict, f"{e},{ip}\n".encode(), "text/csv").json()["predictions"][0] for e, ip in ROWS
    ]
    for answer in (one_request, one_at_a_time):
        assert [p["known_entity"] for p in answer] == [p["known_entity"] for p in batch_file]
        assert_same_numbers(
            [p["dot_product"] for p in answer], np.float32([p["dot_product"] for p in batch_file])
        )


# -- errors -----------------------------------------------------------------------------------

ERRORS = [
    ("text/plain", None, CSV_BODY, 415, "Content-Type 'text/plain' is not supported; use one of: text/csv, "),
    (None, None, CSV_BODY, 415, "the request has no Content-Type; use one of: text/csv, "),
    (
        "text/csv",
        "text/html",
        CSV_BODY,
        406,
        "Accept 'text/html' is not supported; use one of: application/json, ",
    ),
    ("text/csv", None, b"", 400, "the request body is empty; send at least one entity,ip row"),
    ("text/csv", None, b" \n\n", 400, "the request body is empty"),
    (
        "text/csv",
        None,
        b"user_1,1.2.3.4\nuser_2,1.2.3\n",
        400,
        "row 2: '1.2.3' is not an IP address; nothing was scored",
    ),
    (
        "text/csv",
        None,
        b"a,1.2.3.4,x\nb,,\n",
        400,
        "row 1: expected 2 columns (entity,ip), got 3 (2 bad rows in all)",
    ),
    ("text/csv", None, b",1.2.3.4\n", 400, "row 1: empty entity"),
    (
        "application/json",
        None,
        b'{"instances": [',
        400,
        "the body is not valid JSON (Expecting value: line 1",
    ),
    ("application/json", None, b"[" * 100_000, 400, "the body is not valid JSON (nested too deeply)"),
    ("application/json", None, b'{"instances": []}', 400, '"instances" is empty'),
    ("application/json", None, b'[["a", "1.2.3.4"]]', 400, 'a JSON request must be {"instances": [...]}'),
    (
        "application/json",
        None,
        b'{"instances": [{"features": ["a"]}]}',
        400,
        'row 1: expected {"features": [entity, ip]}',
    ),
    (
        "application/json",
        None,
        b'{"instances": [{"features": ["\\ud800", "1.2.3.4"]}]}',
        400,
        "row 1: the entity or",
    ),
    (
        "application/jsonlines",
        None,
        b'{"features": ["a", "1.2.3.4"]}\n{"features"\n',
        400,
        "row 2: not valid JSON",
    ),
]


@pytest.mark.parametrize(("content_type", "accept", "body", "status", "message"), ERRORS)
def test_a_bad_request_gets_its_status_and_a_json_error_and_the_server_keeps_serving(
    strict, content_type, accept, body, status, message
):
    response = post(strict, body, content_type, accept)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    assert list(document) == ["error", "status"] and document["status"] == status
    assert message in document["error"]
    assert httpx.get(f"{strict.url}/ping").status_code == 200


def test_a_bad_row_error_tells_how_to_score_the_good_rows(strict):
    error = post(strict, b"user_1,1.2.3.4\nuser_2,1.2.3\n", "text/csv").json()["error"]
    assert error.endswith(
        "start the server with --row-errors to score the good rows and get an error record for each bad one"
    )


def test_unknown_paths_and_methods_get_json_404_and_405(strict):
    missing = httpx.get(f"{strict.url}/predict")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": "no such path '/predict'; use POST /invocations or GET /ping",
        "status": 404,
    }
    wrong_method = httpx.get(f"{strict.url}/invocations")
    assert wrong_method.status_code == 405
    assert wrong_method.json() == {"error": "GET is not allowed on /invocations", "status": 405}


def test_a_body_above_the_payload_limit_gets_413_by_its_content_length(lenient):
    body = b"user_1,1.2.3.4\n" * (SMALL_LIMIT // 15 + 1)
    response = post(lenient, body, "text/csv")
    assert response.status_code == 413
    assert response.json() == {
        "error": f"the request body is {len(body)} bytes, above the {SMALL_LIMIT}-byte limit (0.01 MB); "
        "split it into smaller requests or start the server with a larger --max-payload-mb",
        "status": 413,
    }
    assert post(lenient, body[: SMALL_LIMIT - 15], "text/csv").status_code == 200


def test_a_streamed_body_is_cut_off_with_413_once_it_passes_the_limit(lenient):
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"user_1,1.2.3.4\n" * 100  # 1,500 bytes a chunk, no Content-Length

    response = httpx.post(
        f"{lenient.url}/invocations", content=chunks(), headers={"Content-Type": "text/csv"}, timeout=60
    )
    assert response.status_code == 413
    assert "at least" in response.json()["error"]
    assert httpx.get(f"{lenient.url}/ping").status_code == 200


def test_with_row_errors_good_rows_are_scored_and_bad_rows_get_error_records(lenient, model):
    body = b"user_1,18.13.7.9\nuser_2,1.2.3\n\nmallory,2001:db8::1\n,1.2.3.4\n"
    predictions = post(lenient, body, "text/csv").json()["predictions"]
    assert predictions[1] == {
        "dot_product": None,
        "known_entity": None,
        "error": "'1.2.3' is not an IP address",
        "row": 2,
    }
    assert predictions[3] == {"dot_product": None, "known_entity": None, "error": "empty entity", "row": 5}
    assert_scores(
        [predictions[0], predictions[2]], model, [("user_1", "18.13.7.9"), ("mallory", "2001:db8::1")]
    )
    lines = json_lines(
        post(
            lenient,
            b'{"features": ["user_1", "18.13.7.9"]}\nnope\n',
            "application/jsonlines",
            "application/jsonlines",
        ).text
    )
    assert lines[1]["row"] == 2 and lines[1]["error"].startswith("not valid JSON")
    assert_scores(lines[:1], model, [("user_1", "18.13.7.9")])


def test_the_port_comes_from_sagemaker_bind_to_port_when_no_port_is_given(lenient):
    assert lenient.url.endswith(f":{lenient.port}")
    assert httpx.get(f"{lenient.url}/ping").status_code == 200


@pytest.mark.skipif(Path("/opt/ml/model").exists(), reason="a SageMaker model is installed here")
def test_started_as_serve_without_model_dir_it_reads_the_sagemaker_model_path(monkeypatch, capsys):
    assert cli.main(["serve"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("ipinsights: error: /opt/ml/model") and error.count("\n") == 1


def test_each_request_is_logged_on_one_line_and_counted_in_metrics(strict):
    post(strict, CSV_BODY, "text/csv")
    post(strict, b"", "text/csv")
    metrics = httpx.get(f"{strict.url}/metrics").text
    assert 'ipinsights_requests_total{path="/invocations",status="200"}' in metrics
    assert 'ipinsights_requests_total{path="/invocations",status="400"}' in metrics
    assert "ipinsights_rows_scored_total " in metrics and "ipinsights_request_latency_seconds_sum " in metrics
    deadline = time.monotonic() + 10
    while "POST /invocations 200 rows=4 " not in strict.log_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    log = strict.log_text()
    assert "POST /invocations 200 rows=4 " in log and "POST /invocations 400 rows=0 " in log
    assert "Traceback" not in log


def test_sagemaker_batch_transform_gets_its_execution_parameters(strict):
    assert httpx.get(f"{strict.url}/execution-parameters").json() == {
        "MaxConcurrentTransforms": 1,
        "BatchStrategy": "MULTI_RECORD",
        "MaxPayloadInMB": 6,
    }


# -- random and concurrent requests -----------------------------------------------------------

_entities = st.sampled_from(["user_1", "user_2", "mallory", "", " ", "é", "a,b", '"q"', "\\ud800", "0"])
_ips = st.sampled_from(
    ["18.13.7.9", "1.2.3.4", "2001:db8::1", "1.2.3", "300.1.1.1", "", "::", "x" * 50, "01.2.3.4"]
)
_instances = st.one_of(
    st.builds(lambda e, ip: {"features": [e, ip]}, _entities, _ips),
    st.builds(lambda e, ip: {"data": {"features": {"values": [e, ip]}}}, _entities, _ips),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.sampled_from(["features", "data", "values", "x"]), inner, max_size=3)
        ),
        max_leaves=8,
    ),
)
_bodies = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    st.lists(st.tuples(_entities, _ips), max_size=6).map(
        lambda rows: "".join(f"{e},{ip}\n" for e, ip in rows).encode()
    ),
    st.lists(_instances, max_size=5).map(lambda xs: json.dumps({"instances": xs}).encode()),
    st.lists(_instances, max_size=5).map(lambda xs: "\n".join(json.dumps(x) for x in xs).encode()),
)
_header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40).map(
    str.strip
)  # HTTP strips it
_content_types = st.one_of(
    st.none(),
    st.sampled_from(["text/csv", "application/json", "application/jsonlines", "TEXT/CSV; charset=utf-8"]),
    _header_text,
)
_accepts = st.one_of(
    st.none(),
    st.sampled_from(
        ["application/json", "application/jsonlines; verbose=True", "*/*", "application/JSON;VERBOSE=true"]
    ),
    _header_text,
)


@pytest.fixture(scope="module")
def strict_client(strict: Server) -> Iterator[httpx.Client]:
    with strict.client() as client:
        yield client


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_bodies, content_type=_content_types, accept=_accepts)
def test_random_requests_get_2xx_or_4xx_with_json_and_the_server_keeps_serving(
    strict, strict_client, body, content_type, accept
):
    response = post(strict, body, content_type, accept, client=strict_client)
    assert 200 <= response.status_code < 300 or 400 <= response.status_code < 500, response.text
    if response.status_code >= 400:
        document = response.json()
        assert document["status"] == response.status_code and isinstance(document["error"], str)
    elif response.headers["content-type"] == "application/jsonlines":
        assert all(isinstance(p["dot_product"], float) for p in json_lines(response.text))
    else:
        assert all(isinstance(p["dot_product"], float) for p in response.json()["predictions"])
    assert strict_client.get("/ping").status_code == 200


def test_hundreds_of_concurrent_requests_to_two_workers_all_match_batch_scoring(lenient, model):
    rng = random.Random(7)
    logins = [*make_logins(30, 4, seed=11), ("mallory", "2001:db8::7"), ("stranger", "9.9.9.9")]
    requests = [rng.sample(logins, rng.randint(1, 12)) for _ in range(400)]
    formats = ["text/csv", "application/json", "application/jsonlines"]

    def send(index: int) -> tuple[int, list[dict]]:
        rows = requests[index]
        content_type = formats[index % 3]
        if content_type == "text/csv":
            body = "".join(f"{e},{ip}\n" for e, ip in rows)
        elif content_type == "application/json":
            body = json.dumps({"instances": [{"features": list(r)} for r in rows]})
        else:
            body = "\n".join(json.dumps({"data": {"features": {"values": list(r)}}}) for r in rows)
        accept = "application/json" if index % 2 else "application/jsonlines"
        response = client.post(
            "/invocations", content=body.encode(), headers={"Content-Type": content_type, "Accept": accept}
        )
        assert response.status_code == 200, response.text
        return index, response.json()["predictions"] if index % 2 else json_lines(response.text)

    limits = httpx.Limits(max_connections=32)
    with (
        httpx.Client(base_url=lenient.url, timeout=60, limits=limits) as client,
        ThreadPoolExecutor(24) as pool,
    ):
        answers = list(pool.map(send, range(len(requests))))
    flat = [row for rows in requests for row in rows]
    scores = expected(model, flat)
    got = [p for _, predictions in sorted(answers) for p in predictions]
    assert_same_numbers([p["dot_product"] for p in got], scores.dot_product)
    assert [p["known_entity"] for p in got] == scores.known_entity.tolist()
    assert "Traceback" not in lenient.log_text()


# -- slow and vanishing clients (hardening issue, item 11) ------------------------------------

#: The guarded server's timeouts and connection limit, short so that the tests are quick.
HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0
MAX_CONNECTIONS = 4
#: Allowed lateness of a timeout on a busy 2-core machine.
SLACK = 3.0
HALF_A_BODY = b"POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\nContent-Length: 100\r\n\r\nuser_1,1.2.3.4\n"


#: uvicorn takes httptools when it is installed (the serve extra installs it), else h11; hiding
#: httptools from the server process makes it take h11.
PARSERS = {"httptools": CLI, "h11": f"import sys; sys.modules['httptools'] = None; {CLI}"}


@pytest.fixture(scope="module", params=list(PARSERS))
def guarded(
    model_dir: Path, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Server]:
    """A server with short timeouts and a small connection limit, with each HTTP parser."""
    port = free_port()
    log = tmp_path_factory.mktemp("guarded") / f"{request.param}.log"
    args = ["--header-timeout", str(HEADER_TIMEOUT), "--body-timeout", str(BODY_TIMEOUT)]
    process = start_server(
        log,
        "--model-dir",
        str(model_dir),
        "--port",
        str(port),
        *args,
        "--max-connections",
        str(MAX_CONNECTIONS),
        code=PARSERS[request.param],
    )
    server = Server(f"http://127.0.0.1:{port}", port, log, process)
    try:
        wait_until_serving(server)
        yield server
    finally:
        stop(server)


def raw_connection(server: Server) -> socket.socket:
    return socket.create_connection(
        ("127.0.0.1", server.port), timeout=HEADER_TIMEOUT + BODY_TIMEOUT + 2 * SLACK
    )


def read_until_closed(sock: socket.socket) -> tuple[float, bytes]:
    """Seconds until the server closes the connection, and what it sent meanwhile."""
    started, data = time.monotonic(), b""
    while chunk := sock.recv(65536):  # bounded by the socket's timeout
        data += chunk
    return time.monotonic() - started, data


def wait_for_log(server: Server, text: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while text not in (log := server.log_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return log


@pytest.mark.parametrize(
    ("first", "stalled"),
    [
        (b"", b""),
        (b"", b"POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Ty"),
        (b"GET /ping HTTP/1.1\r\nHost: t\r\n\r\n", b"GET /pi"),
    ],
    ids=["idle", "half-the-headers", "half-a-second-request"],
)
def test_hardening_11_a_client_that_stalls_before_its_headers_end_is_dropped_within_the_header_timeout(
    guarded, first, stalled
):
    with raw_connection(guarded) as sock:
        if first:
            sock.sendall(first)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
        sock.sendall(stalled)
        seconds, data = read_until_closed(sock)
    assert seconds < HEADER_TIMEOUT + SLACK
    if stalled:
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 ") and b"connection: close" in head
        assert json.loads(body) == {
            "error": f"the request headers were not complete within {HEADER_TIMEOUT:g} s",
            "status": 408,
        }
    else:
        assert data == b""
    assert httpx.get(f"{guarded.url}/ping").status_code == 200


def test_hardening_11_a_client_that_stalls_in_its_body_gets_408_and_a_close_within_the_body_timeout(guarded):
    with raw_connection(guarded) as sock:
        sock.sendall(HALF_A_BODY)
        seconds, data = read_until_closed(sock)
    assert BODY_TIMEOUT - 0.5 < seconds < BODY_TIMEOUT + SLACK
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ") and b"connection: close" in head
    assert json.loads(body) == {
        "error": f"the request body did not arrive within {BODY_TIMEOUT:g} s (15 of 100 bytes received); "
        "send it faster, or start the server with a larger --body-timeout",
        "status": 408,
    }
    assert "POST /invocations 408 rows=0 " in wait_for_log(guarded, "POST /invocations 408 ")


def test_hardening_11_a_client_that_disconnects_mid_body_is_logged_as_499_not_as_a_500_with_a_traceback(
    guarded,
):
    for _ in range(3):
        with raw_connection(guarded) as sock:
            sock.sendall(HALF_A_BODY)
            time.sleep(0.2)
    log = wait_for_log(guarded, "POST /invocations 499 ")
    assert "POST /invocations 499 rows=0 " in log
    assert "Traceback" not in log and "internal error" not in log and "/invocations 500 " not in log
    assert httpx.get(f"{guarded.url}/ping").status_code == 200
    metrics = httpx.get(f"{guarded.url}/metrics").text
    assert 'ipinsights_requests_total{path="/invocations",status="499"}' in metrics
    assert 'status="500"' not in metrics


def test_hardening_11_past_max_connections_a_request_gets_503_until_connections_close(guarded):
    with ExitStack() as held:
        for _ in range(MAX_CONNECTIONS):
            held.enter_context(raw_connection(guarded)).sendall(b"GET /pi")
        time.sleep(0.2)  # for the server to accept them
        assert httpx.get(f"{guarded.url}/ping").status_code == 503
    deadline = time.monotonic() + 10
    while (status := httpx.get(f"{guarded.url}/ping").status_code) != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert status == 200


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        (
            "--header-timeout",
            "0",
            "--header-timeout must be a positive number of seconds, got --header-timeout 0",
        ),
        (
            "--body-timeout",
            "inf",
            "--body-timeout must be a positive number of seconds, got --body-timeout inf",
        ),
        ("--max-connections", "0", "--max-connections must be at least 1, got --max-connections 0"),
    ],
    ids=["header-timeout-0", "body-timeout-inf", "max-connections-0"],
)
def test_hardening_11_a_bad_timeout_or_connection_limit_is_one_line_naming_the_option(
    model_dir, capsys, option, value, message
):
    assert cli.main(["serve", "--model-dir", str(model_dir), option, value]) == 2
    assert capsys.readouterr().err == f"ipinsights: error: {message}\n"


def test_workers_auto_is_one_per_usable_core_and_anything_else_must_be_a_number():
    from ipinsights.cli.serve import _workers

    assert _workers("auto") == len(os.sched_getaffinity(0)) and _workers("3") == 3
    result = subprocess.run(
        [sys.executable, "-m", "ipinsights.serve", "--model-dir", "nowhere", "--workers", "many"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "ipinsights: error: --workers must be a positive number or auto, got --workers many"
