"""Squads for the flows: made through the API and the fake GitHub, and cleaned up after.

`SquadMaker` waits at the end of a test until none of its squads' tasks is still in progress: a
pipeline left running would otherwise keep working (and loading the stack) during the next test.
`FaultRules` narrows each fault to one squad's repository and removes what a test did not use up.
"""

from dataclasses import dataclass
from typing import Any

from fixtures import factories
from fixtures.platform_client import FakeAdmin, FakeGitHubAdmin, PlatformClient
from fixtures.plugin import SquadContext
from fixtures.sse import SseRecorder
from fixtures.waiting import eventually

# The whole pipeline (sandbox, clone, commit, push, pull request) against the fakes; it takes about
# a second on an idle machine.
PIPELINE_TIMEOUT_S = 45.0
PIPELINE_TIMEOUT_MS = PIPELINE_TIMEOUT_S * 1000
SANDBOX_STATES_ON_SUCCESS = ["creating", "ready", "running", "pushing", "done"]


def task_finished(task_id: str):
    """A predicate for SseRecorder.wait_for: the task reached review or failed."""
    return lambda event: (
        event["type"] == "task.status"
        and event["task_id"] == task_id
        and event["data"]["status"] in ("review", "failed")
    )


@dataclass
class FinishedTask:
    """A task whose pipeline ran to its end, and the events its stream delivered."""

    squad: SquadContext
    task: dict[str, Any]
    events: list[dict[str, Any]]


class SquadMaker:
    def __init__(self, platform: PlatformClient, github: FakeGitHubAdmin, base_url: str) -> None:
        self.platform = platform
        self.github = github
        self.base_url = base_url
        self.made: list[SquadContext] = []

    def __call__(self, *, with_repository: bool = True) -> SquadContext:
        """A squad with one agent; its repository exists in the fake GitHub unless told otherwise
        (then its pipelines fail on their own, at the first GitHub call)."""
        data = factories.squad_data()
        repository = self.github.create_repo(*data["repository"].split("/")) if with_repository else {}
        squad = self.platform.create_squad(**data)
        client = self.platform.as_squad(squad["token"])
        agent = client.create_agent(**factories.agent_data())
        context = SquadContext(squad=squad, token=squad["token"], agent=agent, client=client, repository=repository)
        self.made.append(context)
        return context

    def run_task(self, squad: SquadContext) -> FinishedTask:
        """Create a task, assign it through the API and wait for its pipeline to end."""
        task = squad.client.create_task(**factories.task_data())
        with SseRecorder(self.base_url, squad.token, params={"task_id": task["id"]}) as stream:
            squad.client.assign(task["id"], squad.agent["id"])
            stream.wait_for(task_finished(task["id"]), timeout=PIPELINE_TIMEOUT_S, what="the task's pipeline to end")
            events = list(stream.events)
        return FinishedTask(squad, squad.client.get_task(task["id"]), events)

    def settle(self, timeout: float = PIPELINE_TIMEOUT_S) -> None:
        """Wait until no task of any squad made here is in progress any more."""
        for squad in self.made:

            def nothing_in_progress(squad: SquadContext = squad) -> None:
                running = [task["id"] for task in squad.client.list_tasks() if task["status"] == "in_progress"]
                assert not running, f"tasks still in progress in squad {squad.squad['name']}: {running}"

            eventually(nothing_in_progress, timeout=timeout, interval=0.1, description="the squad's pipelines to end")

    def close(self) -> None:
        for squad in self.made:
            squad.client.close()


class FaultRules:
    """Fault rules one test adds to a fake, each narrowed with `match` to one repository's requests
    (so no other test's pipeline can take it, whatever runs beside it), and removed at the end of
    the test when they were not used up (a failed test must not leave one behind)."""

    def __init__(self, admin: FakeAdmin) -> None:
        self.admin = admin
        self.added: list[int] = []

    def add(self, repository: str, **rule: Any) -> dict[str, Any]:
        added = self.admin.add_fault(**rule, match={"repository": repository})
        self.added.append(added["id"])
        return added

    def remove_unused(self) -> None:
        active = {rule["id"] for rule in self.admin.http.get("/_fake/faults").raise_for_status().json()}
        for rule_id in set(self.added) & active:
            self.admin.http.delete(f"/_fake/faults/{rule_id}").raise_for_status()


def terminal_lines(events: list[dict[str, Any]]) -> list[str]:
    """The lines a terminal shows for these terminal.output events: chunks split at newlines, and a
    chunk without a final newline continued by the next chunk of the same stream."""
    lines: list[str] = []
    open_line: dict[str, int] = {}
    for event in events:
        if event["type"] != "terminal.output":
            continue
        stream, parts = event["data"]["stream"], event["data"]["text"].split("\n")
        ends_open = parts[-1] != ""
        if not ends_open:
            parts.pop()
        last = None
        for index, part in enumerate(parts):
            if index == 0 and stream in open_line:
                last = open_line[stream]
                lines[last] += part
            else:
                lines.append(part)
                last = len(lines) - 1
        if ends_open and last is not None:
            open_line[stream] = last
        else:
            open_line.pop(stream, None)
    return lines
