"""Write the sample logs of docs/from-logs.md (run from the repository root; same bytes every run).

One small simulated company, 30 users over 18 days (14 for training, 2 for validation, 2 for
testing), rendered in each format as its software writes it (OpenSSH's auth.c log line, nginx's
combined format with ``$http_x_forwarded_for``, CloudTrail's ``Records`` files, an app's JSON
Lines, an identity provider's CSV export, a Parquet table). Each user logs in from a home ISP
(a /16, its address changing inside it), the office's few egress addresses (shared by everyone,
as NAT makes them), for three in five a mobile carrier's CGNAT pool (shared too), now and
then (1.5 %) a hotel; five users
use IPv6 at home. The test period also holds three planted logins from networks no user ever
came from, the ones the walkthrough should flag.

The awkward cases each format has in real life are in: rotated and gzipped files, IPv6, lines
without a login (other syslog messages, anonymous requests, 401s, AWS services calling on a
user's behalf), a proxy's X-Forwarded-For, JSON records without a user, quoted CSV fields.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent
START = datetime(2024, 10, 1, tzinfo=UTC)
USERS = [
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "grace",
    "heidi",
    "ivan",
    "judy",
    "mallory",
    "niaj",
    "olivia",
    "peggy",
    "rupert",
    "sybil",
    "ted",
    "trent",
    "uma",
    "victor",
    "walter",
    "xavier",
    "yara",
    "zoe",
    "amir",
    "bea",
    "chen",
    "dmitri",
    "elif",
    "farah",
]
OFFICE = ["198.51.100.10", "198.51.100.11", "198.51.100.12"]  # NAT egress, shared by everyone
CARRIER = (100, 37)  # a mobile carrier's /16 (CGNAT: many users behind few addresses)
HOME_16 = [
    (73, 12),
    (73, 45),
    (24, 18),
    (81, 129),
    (86, 12),
    (92, 40),
    (2, 24),
    (176, 31),
    (68, 100),
    (98, 207),
]
PLANTED = [  # (day offset in the test period, user, address): networks no user came from
    (0, "carol", "185.220.101.47"),
    (1, "dave", "45.155.205.233"),
    (1, "grace", "2a03:b0c0:3:d0::1a2b:c001"),
]
TRAIN_DAYS, VALIDATION_DAYS, TEST_DAYS = 14, 2, 2


def simulate() -> list[tuple[datetime, str, str]]:
    """(time, user, address) of every login, sorted by time."""
    rng = np.random.default_rng(2024)
    logins = []
    for u, user in enumerate(USERS):
        a, b = HOME_16[u % len(HOME_16)]
        home24 = int(rng.integers(0, 256))
        ipv6 = u % 6 == 5
        mobile = u % 5 < 3  # three users in five also log in from their phones
        for day in range(TRAIN_DAYS + VALIDATION_DAYS + TEST_DAYS):
            for _ in range(int(rng.poisson(4))):
                when = START + timedelta(days=day, seconds=int(rng.integers(6 * 3600, 23 * 3600)))
                kind = rng.random()
                if kind < 0.45:
                    ip = OFFICE[int(rng.integers(len(OFFICE)))]
                elif kind < 0.80:
                    if ipv6:
                        ip = f"2001:db8:{0x100 + u:x}:{int(rng.integers(0, 4)):x}::{int(rng.integers(1, 1 << 16)):x}"
                    else:
                        if rng.random() < 0.05:  # the ISP moves the customer to another /24
                            home24 = int(rng.integers(0, 256))
                        ip = f"{a}.{b}.{home24}.{int(rng.integers(2, 255))}"
                elif kind < 0.985 and mobile:
                    ip = f"{CARRIER[0]}.{CARRIER[1]}.{int(rng.integers(0, 4))}.{int(rng.integers(1, 255))}"
                elif kind < 0.985:
                    ip = OFFICE[int(rng.integers(len(OFFICE)))]
                else:  # a hotel or a conference
                    ip = f"{int(rng.integers(1, 224))}.{int(rng.integers(0, 256))}.{int(rng.integers(0, 256))}.{int(rng.integers(1, 255))}"
                logins.append((when, user, ip))
    test_start = START + timedelta(days=TRAIN_DAYS + VALIDATION_DAYS)
    for day, user, ip in PLANTED:
        logins.append((test_start + timedelta(days=day, hours=3, minutes=17), user, ip))
    return sorted(logins)


def periods(logins: list) -> dict[str, list]:
    cut_validation = START + timedelta(days=TRAIN_DAYS)
    cut_test = cut_validation + timedelta(days=VALIDATION_DAYS)
    return {
        "train": [x for x in logins if x[0] < cut_validation],
        "validation": [x for x in logins if cut_validation <= x[0] < cut_test],
        "test": [x for x in logins if x[0] >= cut_test],
    }


def halves(rows: list) -> tuple[list, list]:
    return rows[: len(rows) // 2], rows[len(rows) // 2 :]


def write(path: Path, text: str, *, gz: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode()
    if gz:
        buffer = io.BytesIO()
        with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as fh:  # mtime 0: the same bytes every run
            fh.write(data)
        data = buffer.getvalue()
    path.write_bytes(data)


# -- OpenSSH: /var/log/auth.log, rotated by logrotate (auth.log.1, auth.log.2.gz, ...) ----------------


def sshd(rows: list, rng: np.random.Generator) -> str:
    lines = []
    for when, user, ip in rows:
        stamp = when.strftime("%b %e %H:%M:%S")
        pid = int(rng.integers(1000, 60000))
        method = "publickey" if rng.random() < 0.7 else "password"
        tail = ": ED25519 SHA256:q3v1bX9tH2Jc0kZ8w7yPpLrS4uVnA5mE6fG7hJ8kL9M" if method == "publickey" else ""
        lines.append(
            f"{stamp} bastion sshd[{pid}]: Accepted {method} for {user} from {ip} port {int(rng.integers(32768, 61000))} ssh2{tail}"
        )
        lines.append(
            f"{stamp} bastion sshd[{pid}]: pam_unix(sshd:session): session opened for user {user}(uid=1000) by (uid=0)"
        )
        if rng.random() < 0.15:  # the internet's background noise: guessed passwords
            bot = f"{int(rng.integers(1, 224))}.{int(rng.integers(0, 256))}.{int(rng.integers(0, 256))}.{int(rng.integers(1, 255))}"
            lines.append(
                f"{stamp} bastion sshd[{pid + 1}]: Failed password for invalid user admin from {bot} port 4{int(rng.integers(1000, 9999))} ssh2"
            )
            lines.append(
                f"{stamp} bastion sshd[{pid + 1}]: Connection closed by invalid user admin {bot} port 4{int(rng.integers(1000, 9999))} [preauth]"
            )
        if rng.random() < 0.05:
            lines.append(
                f"{stamp} bastion CRON[{pid + 2}]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"
            )
    return "\n".join(lines) + "\n"


# -- nginx behind a load balancer: log_format main '... "$http_x_forwarded_for"' ----------------------


def access(rows: list, rng: np.random.Generator) -> str:
    lines = []
    agents = [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
        "okhttp/4.12.0",
    ]
    for when, user, ip in rows:
        stamp = when.strftime("%d/%b/%Y:%H:%M:%S +0000")
        agent = agents[int(rng.integers(len(agents)))]
        balancer = f"10.0.{int(rng.integers(0, 2))}.{int(rng.integers(2, 6))}"
        lines.append(
            f'{balancer} - - [{stamp}] "GET /static/app.css HTTP/1.1" 200 4521 "https://intranet.example.com/" "{agent}" "{ip}"'
        )
        if rng.random() < 0.05:
            lines.append(
                f'{balancer} - {user} [{stamp}] "GET /reports HTTP/1.1" 401 179 "-" "{agent}" "{ip}"'
            )
        lines.append(
            f'{balancer} - {user} [{stamp}] "GET /reports/weekly?team=ops HTTP/1.1" 200 18734 "https://intranet.example.com/" "{agent}" "{ip}, 10.0.9.1"'
        )
    return "\n".join(lines) + "\n"


# -- CloudTrail: AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<time>_<id>.json.gz


def cloudtrail_files(rows: list, rng: np.random.Generator, folder: Path) -> None:
    by_day: dict[str, list] = {}
    for row in rows:
        by_day.setdefault(row[0].strftime("%Y/%m/%d"), []).append(row)
    for day, day_rows in by_day.items():
        records = []
        for when, user, ip in day_rows:
            stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
            if user in ("alice", "bob", "chen"):  # SSO users act through an assumed role
                identity = {
                    "type": "AssumedRole",
                    "principalId": f"AROAEXAMPLEROLEID:{user}@example.com",
                    "arn": f"arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_1a2b3c/{user}@example.com",
                    "accountId": "111122223333",
                }
            else:
                identity = {
                    "type": "IAMUser",
                    "principalId": f"AIDAEXAMPLE{user.upper()}",
                    "arn": f"arn:aws:iam::111122223333:user/{user}",
                    "accountId": "111122223333",
                    "userName": user,
                }
            records.append(
                {
                    "eventVersion": "1.09",
                    "userIdentity": identity,
                    "eventTime": stamp,
                    "eventSource": "signin.amazonaws.com",
                    "eventName": "ConsoleLogin",
                    "awsRegion": "us-east-1",
                    "sourceIPAddress": ip,
                    "userAgent": "Mozilla/5.0",
                    "responseElements": {"ConsoleLogin": "Success"},
                    "eventID": f"{int(rng.integers(1 << 62)):016x}",
                    "eventType": "AwsConsoleSignIn",
                }
            )
            if rng.random() < 0.3:  # an AWS service acting for the user: not a login from an address
                records.append(
                    {
                        "eventVersion": "1.09",
                        "userIdentity": identity,
                        "eventTime": stamp,
                        "eventSource": "ec2.amazonaws.com",
                        "eventName": "DescribeInstances",
                        "awsRegion": "us-east-1",
                        "sourceIPAddress": "autoscaling.amazonaws.com",
                        "userAgent": "autoscaling.amazonaws.com",
                        "eventID": f"{int(rng.integers(1 << 62)):016x}",
                        "eventType": "AwsApiCall",
                    }
                )
        name = f"111122223333_CloudTrail_us-east-1_{day.replace('/', '')}T2355Z_{int(rng.integers(1 << 62)):016x}.json.gz"
        write(
            folder / "AWSLogs/111122223333/CloudTrail/us-east-1" / day / name,
            json.dumps({"Records": records}, separators=(",", ":")),
            gz=True,
        )


# -- an application's JSON Lines: nested fields, some events without a user ------------------------


def jsonl(rows: list, rng: np.random.Generator) -> str:
    lines = []
    for k, (when, user, ip) in enumerate(rows):
        record = {
            "ts": when.isoformat(),
            "event": "login.success",
            "user": {"name": user, "mfa": bool(rng.random() < 0.8)},
            "client": {"ip": ip, "ua": "Mozilla/5.0"},
        }
        lines.append(json.dumps(record))
        if k == len(rows) // 3:  # a health check logged as a login, without a user: a bad row, reported
            lines.append(json.dumps({"ts": when.isoformat(), "event": "login.success", "client": {"ip": ip}}))
    return "\n".join(lines) + "\n"


# -- an identity provider's CSV export, and the same as Parquet -----------------------------------


def csv_rows(rows: list) -> list[dict[str, str]]:
    return [
        {
            "timestamp": w.isoformat(),
            "username": f"{u}@example.com",
            "source_ip": ip,
            "result": "SUCCESS",
            "user_agent": 'Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0, "managed"',
        }
        for w, u, ip in rows
    ]


def csv_text(rows: list) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(csv_rows(rows[:1])[0]), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(csv_rows(rows))
    return buffer.getvalue()


def parquet(rows: list, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {
            "event_time": [w.replace(tzinfo=None) for w, _, _ in rows],
            "user_name": [u for _, u, _ in rows],
            "src_ip": [ip for _, _, ip in rows],
        }
    )
    pq.write_table(table, path, compression="zstd")


def main() -> None:
    split = periods(simulate())
    rng = np.random.default_rng(7)
    older, newer = halves(split["train"])
    write(OUT / "sshd/train/auth.log.3.gz", sshd(older, rng), gz=True)
    write(OUT / "sshd/train/auth.log.2.gz", sshd(newer, rng), gz=True)
    write(OUT / "sshd/auth.log.1", sshd(split["validation"], rng))
    write(OUT / "sshd/auth.log", sshd(split["test"], rng))
    write(OUT / "nginx/train/access.log.3.gz", access(older, rng), gz=True)
    write(OUT / "nginx/train/access.log.2.gz", access(newer, rng), gz=True)
    write(OUT / "nginx/access.log.1", access(split["validation"], rng))
    write(OUT / "nginx/access.log", access(split["test"], rng))
    for period in ("train", "validation", "test"):
        cloudtrail_files(split[period], rng, OUT / "cloudtrail" / period)
        gz = ".gz" if period == "train" else ""  # an exported training month is usually compressed
        write(OUT / f"jsonl/{period}.jsonl{gz}", jsonl(split[period], rng), gz=bool(gz))
        write(OUT / f"csv/{period}.csv{gz}", csv_text(split[period]), gz=bool(gz))
        parquet(split[period], OUT / f"parquet/{period}.parquet")


if __name__ == "__main__":
    main()
