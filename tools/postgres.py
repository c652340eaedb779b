"""Run one command against PostgreSQL.

`python -m tools.postgres -- COMMAND ...` runs COMMAND with TEST_DATABASE_URL pointing at a fresh
throwaway cluster (fixtures/postgres.py) on a free loopback port, then stops and deletes it. With
TEST_DATABASE_URL already set, that database is used and nothing is started; without PostgreSQL
binaries, the run falls back to SQLite and says so.
"""

import os
import subprocess
import sys

from fixtures.postgres import PostgresUnavailable, throwaway_cluster


def main(argv: list[str]) -> int:
    command = argv[1:] if argv[:1] == ["--"] else argv
    if not command:
        print("usage: python -m tools.postgres -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    if os.environ.get("TEST_DATABASE_URL"):
        print("postgres: reusing TEST_DATABASE_URL", flush=True)
        return subprocess.call(command)
    try:
        with throwaway_cluster() as url:
            print(f"postgres: started a throwaway cluster at {url}", flush=True)
            return subprocess.call(command, env=os.environ | {"TEST_DATABASE_URL": url})
    except PostgresUnavailable as error:
        print(f"postgres: unavailable, running on SQLite instead ({error})", flush=True)
        return subprocess.call(command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
