"""Two stacks started side by side share nothing: not their logs, not the platform's database, not the
fakes' sandbox workspaces or repositories; a task made on one is not seen on the other.

Started as people and the suites start them, given the same directory to write to: two `python -m
tools.stack up --free-ports` (what `make up` runs, on free ports so as not to meet a `make up` of
the machine's), and two stacks of the launcher's (`start_stack`, what the suites and `python -m
tools.stack run` call).
"""

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from environment_tests.environment_files import BARE_ENVIRONMENT
from fixtures import factories
from fixtures.platform_client import FakeE2BAdmin, FakeGitHubAdmin, PlatformClient
from fixtures.stack import ROOT, Stack, start_stack, stop_processes

pytestmark = [pytest.mark.e2e, pytest.mark.priority_p1]

START_TIMEOUT_S = 60.0


class Up:
    """`python -m tools.stack up --free-ports` in a process of its own, and what it printed."""

    def __init__(self) -> None:
        environ = {name: os.environ[name] for name in BARE_ENVIRONMENT if name in os.environ}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tools.stack", "up", "--free-ports"],
            cwd=ROOT,
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if "press Ctrl-C to stop" in line:
                self.ready.set()
        self.ready.set()

    def wait_until_up(self) -> None:
        assert self.ready.wait(START_TIMEOUT_S) and self.process.poll() is None, "\n".join(self.lines)

    def printed(self, pattern: str) -> str:
        found = [match.group(1) for line in self.lines if (match := re.search(pattern, line))]
        assert found, f"no line matching {pattern!r} in:\n" + "\n".join(self.lines)
        return found[0]

    @property
    def log_dir(self) -> Path:
        return (ROOT / self.printed(r"platform: started \S+ \(log (\S+)\)")).parent

    @property
    def base_url(self) -> str:
        return self.printed(r"platform: started (\S+) ")

    @property
    def github_url(self) -> str:
        return self.printed(r"fake-github: started (\S+) ")

    @property
    def demo(self) -> tuple[str, str]:
        """The demo squad's id and token, from the board URL printed."""
        squad, token = re.search(r"#squad=(\w+)&token=(\S+)", self.printed(r"demo board:\s+(\S+)")).groups()
        return squad, token

    def stop(self) -> None:
        stop_processes([self.process])


@pytest.fixture
def two_ups() -> Iterator[tuple[Up, Up]]:
    first = Up()
    try:
        first.wait_until_up()
        second = Up()
        try:
            second.wait_until_up()
            yield first, second
        finally:
            second.stop()
    finally:
        first.stop()


def test_two_make_ups_side_by_side_write_to_directories_of_their_own_and_keep_their_own_squads(two_ups):
    first, second = two_ups
    first_squad, first_token = first.demo
    second_squad, second_token = second.demo

    on_first = PlatformClient(first.base_url, first_token)
    made = on_first.create_task(**factories.task_data())
    on_second = PlatformClient(second.base_url, second_token)

    assert first.log_dir != second.log_dir
    assert (first.log_dir / "squad.db").exists() and (second.log_dir / "squad.db").exists()
    for up, other in ((first, second), (second, first)):
        log = (up.log_dir / "platform.log").read_text()
        assert up.base_url in log and other.base_url not in log, f"{up.log_dir}/platform.log:\n{log}"
    assert on_first.request("GET", "/api/v1/squads/me").json()["id"] == first_squad, "the first stack lost its squad"
    assert on_second.request("GET", "/api/v1/squads/me").json()["id"] == second_squad
    assert PlatformClient(second.base_url, first_token).request("GET", "/api/v1/tasks").status_code == 401
    assert made["id"] not in {task["id"] for task in on_second.every_task()}
    for client in (on_first, on_second):
        client.close()


@pytest.fixture
def two_stacks(tmp_path) -> Iterator[tuple[Stack, Stack]]:
    environ = {name: os.environ[name] for name in BARE_ENVIRONMENT if name in os.environ}
    same_place = tmp_path / "stack"
    first = start_stack(environ=environ, log_dir=same_place, announce=lambda line: None)
    try:
        second = start_stack(environ=environ, log_dir=same_place, announce=lambda line: None)
        try:
            yield first, second
        finally:
            second.stop()
    finally:
        first.stop()


def test_two_launched_stacks_given_one_directory_share_no_database_log_workspace_or_repository(two_stacks):
    first, second = two_stacks
    repositories = []
    for stack in two_stacks:
        github = FakeGitHubAdmin(stack.github_url)
        github.create_repo("squad-tests", "same-name")
        repositories.append(github.state()["repositories"][0]["path"])
    workspaces = []
    for stack in two_stacks:
        e2b = FakeE2BAdmin(stack.e2b_url, stack.e2b_api_key)
        sandbox = e2b.http.post("/sandboxes", json={"templateID": "base"}, headers={"X-API-Key": stack.e2b_api_key})
        assert sandbox.status_code == 201, sandbox.text
        workspaces.append(next(s["workspace"] for s in e2b.state()["sandboxes"]))
        e2b.kill_sandbox(sandbox.json()["sandboxID"])

    assert first.log_dir != second.log_dir and first.log_dir and second.log_dir
    assert first.database_url != second.database_url
    assert str(first.log_dir) in (first.database_url or "") and str(second.log_dir) in (second.database_url or "")
    assert first.platform.log_path != second.platform.log_path
    assert first.admin_token != second.admin_token
    assert Path(repositories[0]).parent.parent != Path(repositories[1]).parent.parent, repositories
    assert Path(workspaces[0]).parent != Path(workspaces[1]).parent, workspaces


def test_a_stopped_stacks_directory_is_taken_again_by_the_next(tmp_path):
    environ = {name: os.environ[name] for name in BARE_ENVIRONMENT if name in os.environ}
    place = tmp_path / "stack"
    first = start_stack(environ=environ, log_dir=place, announce=lambda line: None)
    first.stop()
    second = start_stack(environ=environ, log_dir=place, announce=lambda line: None)
    second.stop()

    assert first.log_dir == second.log_dir == place
