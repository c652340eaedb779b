"""A scripted agent on the live stack: the conversation scripted through the fake LLM's admin API, the
task assigned through the platform's API, and the pull request's branch in the fake GitHub holding
exactly what the agent wrote; the stream carries the agent's events, and replays them from the start.
Everything is read through the services' APIs, so it runs against an external deployment too."""

import json
import os
import subprocess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from fixtures.factories import task_data
from fixtures.outcomes import assert_no_sandbox_left
from fixtures.platform_client import FakeE2BAdmin
from fixtures.sse import SseRecorder
from mocks.llm import ToolCall, Turn

pytestmark = [pytest.mark.e2e, pytest.mark.priority_p0]

GREET = 'def greet(name):\n    return f"Hello, {name}!"\n'
CHECK = "from greet import greet\n\nassert greet('Ada') == 'Hello, Ada!', greet('Ada')\nprint('greet works')\n"
# git asks this helper for the token, which stays in the environment, never on a command line.
CREDENTIAL_HELPER = '!f() { echo username=x-access-token; echo "password=$FAKE_GITHUB_TOKEN"; }; f'


def fetch_branch(clone_url: str, token: str, branch: str, into: Path) -> Path:
    """The repository cloned from the fake GitHub over git's HTTP, as any git client would."""
    env = {**os.environ, "FAKE_GITHUB_TOKEN": token, "GIT_TERMINAL_PROMPT": "0"}
    auth = ["-c", "credential.helper=", "-c", f"credential.helper={CREDENTIAL_HELPER}"]
    subprocess.run(["git", *auth, "clone", "--quiet", clone_url, str(into)], env=env, check=True, timeout=60)
    subprocess.run(["git", "-C", str(into), "checkout", "--quiet", branch], check=True, timeout=30)
    return into


def reachable_from_here(clone_url: str, fake_github_url: str) -> str:
    """The clone URL on the fake GitHub's address as this test reaches it. The fake names the host the
    sandbox clones from (in a compose network, its service name, which this machine cannot resolve);
    the repository's path is the same whichever address reaches it."""
    here = urlsplit(fake_github_url)
    return urlunsplit(urlsplit(clone_url)._replace(scheme=here.scheme, netloc=here.netloc))


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def test_a_scripted_agents_pull_request_holds_exactly_what_it_wrote(
    live_stack, new_squad, fake_llm_admin, fake_github_admin, tmp_path
):
    task = new_squad.client.create_task(**task_data(title="Greet people by name"))
    fake_llm_admin.script(
        task["id"],
        [
            Turn.calls(
                ToolCall("write_file", {"path": "greet.py", "content": GREET}),
                ToolCall("write_file", {"path": "checks/check_greet.py", "content": CHECK}),
            ),
            Turn.call("run_command", command="PYTHONPATH=. python3 -B checks/check_greet.py"),
            Turn.finish_with("Added greet() and a check of it; the check passes."),
        ],
        name=task["id"],
    )

    with SseRecorder(live_stack.base_url, new_squad.token, params={"task_id": task["id"]}) as stream:
        new_squad.client.assign(task["id"], new_squad.agent["id"])
        final = stream.wait_for_run_to_end()
        events = list(stream.events)

    assert final["data"]["status"] == "review", final["data"]["error"]
    stored = new_squad.client.get_task(task["id"])
    repo = fetch_branch(
        reachable_from_here(new_squad.repository["clone_url"], live_stack.github_url),
        live_stack.github_token,
        stored["branch"],
        tmp_path / "clone",
    )
    assert sorted(git(repo, "diff", "--name-status", "origin/main...HEAD").splitlines()) == [
        "A\tchecks/check_greet.py",
        "A\tgreet.py",
    ]
    assert (repo / "greet.py").read_text() == GREET
    assert (repo / "checks" / "check_greet.py").read_text() == CHECK
    pulls = fake_github_admin.pulls(new_squad.owner, new_squad.repo_name, live_stack.github_token, state="all")
    assert len(pulls) == 1 and "Added greet() and a check of it; the check passes." in pulls[0]["body"]

    results = [e["data"] for e in events if e["type"] == "agent.tool_result"]
    assert [(r["name"], r["exit_code"]) for r in results] == [
        ("write_file", None),
        ("write_file", None),
        ("run_command", 0),
        ("finish", None),
    ]
    assert results[2]["output"] == "exit code: 0\ngreet works\n"
    assert [e["data"]["step"] for e in events if e["type"] == "agent.usage"] == [1, 2, 3]
    assert stored["prompt_tokens"] > 0 and stored["completion_tokens"] > 0 and stored["cost_usd"] > 0
    conversation = fake_llm_admin.conversation(task["id"])
    assert [a["status"] for a in conversation["answers"]] == [200, 200, 200]
    with SseRecorder(
        live_stack.base_url, new_squad.token, params={"task_id": task["id"]}, **{"Last-Event-ID": "0"}
    ) as replay:
        replay.wait_for(lambda e: e["id"] == events[-1]["id"], what="the replay to reach the last event seen live")
        replayed = list(replay.events)
    assert [(e["id"], e["type"], e["data"]) for e in replayed] == [(e["id"], e["type"], e["data"]) for e in events]
    assert_no_sandbox_left(FakeE2BAdmin(live_stack.e2b_url, live_stack.e2b_api_key), task["id"])


def test_a_secret_the_model_streams_is_in_no_stored_event(live_stack, new_squad, fake_llm_admin, fake_github_admin):
    """The model echoes the platform's own keys at a real model's pace, so its text is stored in many
    deltas and the keys arrive split across the provider's chunks and the deltas' cuts alike."""
    secrets = [value for value in live_stack.credentials().values() if value]
    task = new_squad.client.create_task(**task_data(title="Echo what you were told"))
    text = " ".join(f"Key {number}: {secret}." for number, secret in enumerate(secrets * 2))
    fake_llm_admin.script(
        task["id"],
        [
            Turn.calls(ToolCall("write_file", {"path": "NOTES.md", "content": "notes\n"}), content=text),
            Turn.finish_with(f"Wrote the notes. {text}"),
        ],
        name=task["id"],
        per_token_ms=5,
    )

    with SseRecorder(live_stack.base_url, new_squad.token, params={"task_id": task["id"]}) as stream:
        new_squad.client.assign(task["id"], new_squad.agent["id"])
        final = stream.wait_for(
            lambda e: e["type"] == "task.status" and e["data"]["status"] in ("review", "failed"),
            timeout=60,
            what="the task to finish",
        )
    with SseRecorder(
        live_stack.base_url, new_squad.token, params={"task_id": task["id"]}, **{"Last-Event-ID": "0"}
    ) as replay:
        replay.wait_for(lambda e: e["id"] == final["id"], what="the replay of every stored event")
        stored = list(replay.events)

    assert final["data"]["status"] == "review", final["data"]["error"]
    assert [secret for secret in secrets if secret in json.dumps(stored)] == [], "a secret in a stored event"
    messages = [e["data"] for e in stored if e["type"] == "agent.message"]
    deltas = [m for m in messages if not m["complete"] and m["step"] == 1]
    assembled = "".join(d["text"] for d in deltas)
    assert [secret for secret in secrets if secret in assembled] == [], "a secret in the deltas, put together"
    assert len(deltas) >= 2, f"the message streamed in {len(deltas)} deltas: the test saw no split"
    complete = next(m["text"] for m in messages if m["complete"] and m["step"] == 1)
    assert complete.startswith(assembled) and complete.count("***") == len(secrets) * 2
    pulls = fake_github_admin.pulls(new_squad.owner, new_squad.repo_name, live_stack.github_token, state="all")
    assert [secret for secret in secrets if secret in pulls[0]["body"]] == []
