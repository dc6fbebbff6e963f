#!/usr/bin/env bash
# Make sure PostgreSQL server binaries are installed (Debian package). The tests start their
# own throwaway server on a free loopback port (tests/postgres.py); nothing is left running.
set -euo pipefail
have_pg() {
    command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1
}
if ! have_pg; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "postgres.sh: installing the Debian postgresql package"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    else
        echo "postgres.sh: PostgreSQL is not installed and cannot be installed here (needs root and apt-get);" \
             "the distributed-tuning tests will fail in CI and be skipped elsewhere" >&2
    fi
fi
