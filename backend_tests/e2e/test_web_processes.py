"""A platform served by several web processes (SERVER_WORKERS): every stream gets every event of
its squad, whichever process serves the stream and whichever stored the event.

The platform's poll of the events table is set an hour apart, so an event stored by one process
reaches a stream held by another only through the cross-process wake (SQLite's data_version,
PostgreSQL's NOTIFY), within the test's deadline.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fixtures.databases import worker_database_url
from fixtures.limited_stack import start_platform_on
from fixtures.platform_client import FakeGitHubAdmin, PlatformClient
from fixtures.squads import SquadFactory
from fixtures.sse import SseRecorder
from fixtures.stack import ROOT, Stack, StackError

pytestmark = [pytest.mark.e2e, pytest.mark.priority_p1]

WEB_PROCESSES = 2
# Streams opened at most while waiting for each web process to hold some.
MAX_STREAMS = 24
NEW_TASKS = 4


@pytest.fixture(scope="module")
def web_processes_stack(
    request: pytest.FixtureRequest, live_stack: Stack, worker_id: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    database_url = worker_database_url(f"{worker_id}_processes", tmp_path_factory.mktemp("processes-db"))
    environment = {"SERVER_WORKERS": str(WEB_PROCESSES), "SSE_POLL_INTERVAL_S": "3600", "SQUAD_RUN_WORKER": "false"}
    try:
        stack = start_platform_on(
            live_stack, database_url, ROOT / "reports" / "stack" / f"{worker_id}-processes", print, environment
        )
    except StackError as error:
        pytest.fail(f"could not start the platform with {WEB_PROCESSES} web processes: {error}", pytrace=False)
    yield stack
    stack.stop()


def web_process_ids(stack: Stack) -> list[int]:
    """The web processes uvicorn spawned under the platform's (not multiprocessing's resource tracker)."""
    process = stack.platform.process
    assert process is not None, "the platform was not started by this test"
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    return [int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]


def connections_held(pid: int, port: int) -> int:
    """Established TCP connections to `port` whose sockets the process holds."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01":  # 01: ESTABLISHED
                inodes.add(fields[9])
    held = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            held += 1
    return held


def test_every_stream_gets_every_event_whichever_web_process_serves_it(
    web_processes_stack: Stack, fake_github_admin: FakeGitHubAdmin
) -> None:
    stack = web_processes_stack
    port = int(stack.base_url.rsplit(":", 1)[1])
    pids = web_process_ids(stack)
    assert len(pids) == WEB_PROCESSES, f"SERVER_WORKERS={WEB_PROCESSES} started {len(pids)} web processes: {pids}"
    platform = PlatformClient(stack.base_url, admin_token=stack.admin_token)
    squads = SquadFactory(platform, fake_github_admin, stack.base_url)
    try:
        squad = squads()
        streams: list[SseRecorder] = []
        try:
            # The kernel hands each new connection to whichever process accepts first: open streams
            # until every process holds some.
            while True:
                streams.append(SseRecorder(stack.base_url, squad.token).__enter__())
                held = {pid: connections_held(pid, port) for pid in pids}
                if all(held.values()):
                    break
                assert len(streams) < MAX_STREAMS, f"{len(streams)} streams, held per process: {held}"
            titles = []
            for number in range(NEW_TASKS):
                # A new connection each time, so the tasks are stored by either process.
                with httpx.Client(
                    base_url=stack.base_url, headers={"Authorization": f"Bearer {squad.token}"}
                ) as client:
                    title = f"seen by every stream {number}"
                    client.post("/api/v1/tasks", json={"title": title}).raise_for_status()
                    titles.append(title)
            for index, stream in enumerate(streams):
                for title in titles:
                    stream.wait_for(
                        lambda event, title=title: (
                            event["type"] == "task.created" and event["data"].get("title") == title
                        ),
                        timeout=10,
                        what=f"stream {index}'s task.created of {title!r}",
                    )
        finally:
            for stream in streams:
                stream.__exit__(None, None, None)
    finally:
        squads.close()
        platform.close()
