"""The live stack from the command line.

`python -m tools.stack` (or `... up`) is `make up`: the stack on the fixed ports 8000-8003 with a
demo squad, until Ctrl-C; it prints the platform's admin token (SQUAD_ADMIN_TOKEN: random, unless
the environment sets it), which creating squads takes. `python -m tools.stack run -- CMD ...` runs
CMD against a fresh stack on free ports, pointed at it by SQUAD_BASE_URL, FAKE_E2B_URL,
FAKE_GITHUB_URL and FAKE_LLM_URL and given its credentials (SQUAD_ADMIN_TOKEN, E2B_API_KEY,
GITHUB_TOKEN, LLM_API_KEY), then stops it.
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from fixtures.factories import agent_data, task_data
from fixtures.platform_client import FakeGitHubAdmin, PlatformClient
from fixtures.stack import DEMO_OWNER, ROOT, Stack, StackError, start_stack
from fixtures.targets import ADMIN_TOKEN_VARIABLE


def seed_demo(stack: Stack) -> str:
    """A demo squad with an agent and three tasks; the URL of its board (the token in the fragment)."""
    FakeGitHubAdmin(stack.github_url).create_repo(DEMO_OWNER, "webapp")
    platform = PlatformClient(stack.base_url, admin_token=stack.admin_token)
    squad = platform.create_squad(name="Demo squad", repository=f"{DEMO_OWNER}/webapp")
    client = platform.as_squad(squad["token"])
    client.create_agent(**agent_data(name="ada-bot"))
    for title in ("Add a health badge to the README", "Fix the login redirect", "Write the changelog"):
        client.create_task(**task_data(title=title))
    return f"{stack.base_url}/#squad={squad['id']}&token={squad['token']}"


def _up(args: argparse.Namespace) -> int:
    # The fakes start empty, so the platform does too: old squads would name repositories gone with
    # them. Only this stack's own database goes: a stack already running keeps its directory.
    stack = start_stack(
        fixed_ports=not args.free_ports,
        database_url=args.database_url,
        log_dir=ROOT / "reports" / "stack" / "up",
        fresh_database=True,
    )
    stopping = threading.Event()
    # Installed after the services started, so they keep the default handlers and stop on SIGTERM.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        print(f"platform API docs: {stack.base_url}/docs")
        print(f"fake E2B admin:    {stack.e2b_url}/_fake/state")
        print(f"fake GitHub admin: {stack.github_url}/_fake/state")
        print(f"fake LLM admin:    {stack.llm_url}/_fake/state (its API: {stack.llm_url}/v1)")
        # The operator's token: creating squads (the suites, `locust -f load/`) takes it.
        admin_token = stack.admin_token or "(the reused platform's own: not known here)"
        print(f"squad admin token: {ADMIN_TOKEN_VARIABLE}={admin_token}")
        if not args.no_demo:
            print(f"demo board:        {seed_demo(stack)}")
        print("press Ctrl-C to stop", flush=True)
        stopping.wait()
    finally:
        stack.stop()
    return 0


def _run(args: argparse.Namespace) -> int:
    if not args.command:
        raise SystemExit("usage: python -m tools.stack run -- COMMAND [ARGS...]")
    # The database DATABASE_URL names (make bench-load's PostgreSQL runs), else a new one: two runs at
    # once must not take each other's jobs.
    database_url = (
        os.environ.get("DATABASE_URL") or f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='squad-run-')}/squad.db"
    )
    stack = start_stack(
        log_dir=Path(args.log_dir) if args.log_dir else None,
        database_url=database_url,
        github_tokens=args.github_tokens,
    )
    try:
        # The command gets the credentials in its environment, so it can create squads on this stack.
        return subprocess.call(args.command, env=os.environ | stack.environment() | stack.credentials(), cwd=ROOT)
    finally:
        stack.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.stack", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action")
    up = sub.add_parser("up", help="start the stack on ports 8000-8003 and keep it running (default)")
    for p in (parser, up):
        p.add_argument("--free-ports", action="store_true", help="use free ports instead of 8000-8003")
        p.add_argument("--no-demo", action="store_true", help="do not create the demo squad")
        p.add_argument("--database-url", default=None, help="platform database (default: SQLite under reports/)")
    run = sub.add_parser("run", help="run a command against a fresh stack, then stop it")
    run.add_argument("--log-dir", default=None)
    run.add_argument(
        "--github-tokens",
        type=int,
        default=1,
        help="GitHub tokens the platform spreads its tasks over, each an account of the fake GitHub (default 1)",
    )
    run.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    try:
        if args.action == "run":
            args.command = args.command[1:] if args.command[:1] == ["--"] else args.command
            return _run(args)
        return _up(args)
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
