"""Hostile strings in every field that reaches a command, an argv, a URL or a path: refused before they
reach E2B, git or GitHub, or carried through as inert text.

- a squad's repository goes into GitHub's API paths and the clone URL: refused (422) unless it is a
  name GitHub could hold, and GitHub is not asked;
- a branch goes into git's argv (checkout, push) and a pull request's head: refused (422) unless
  git would take it, and no command starts in the sandbox;
- ids in paths, queries and bodies are looked up in the squad's own rows: 404 (or 422), never an
  outside call;
- a commit message goes into `git commit -m`: it is committed as the very text sent, so nothing in
  it was run by a shell.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.models import Squad as SquadRow
from fixtures.credentials import CANARY_SQUAD_ADMIN_TOKEN
from fixtures.factories import TEST_OWNER

pytestmark = [pytest.mark.integration, pytest.mark.priority_p0]

OPERATOR = {"Authorization": f"Bearer {CANARY_SQUAD_ADMIN_TOKEN}"}

HOSTILE_REPOSITORIES = {
    "dot-dot-owner": "../x",
    "dot-dot-name": f"{TEST_OWNER}/..",
    "dot-name": f"{TEST_OWNER}/.",
    "traversal": f"{TEST_OWNER}/b/../../c",
    "dash-rf": "-rf",
    "dash-owner": "-rf/x",
    "option-name": f"{TEST_OWNER}/--upload-pack=touch",
    "command-substitution": "$(id)/x",
    "command-substitution-name": f"{TEST_OWNER}/$(id)",
    "backticks": f"{TEST_OWNER}/`id`",
    "semicolon": f"{TEST_OWNER}/x;id",
    "pipe": f"{TEST_OWNER}/x|id",
    "percent-dots": "%2e%2e/x",
    "percent-name": f"{TEST_OWNER}/%2e%2e",
    "encoded-slash": f"{TEST_OWNER}%2Fx/y",
    "query": f"{TEST_OWNER}/x?ref=main",
    "fragment": f"{TEST_OWNER}/x#y",
    "url": "https://evil.example/x",
    "scp-url": "git@evil.example:x/y",
    "very-long-owner": "a" * 5000 + "/x",
    "very-long-name": f"{TEST_OWNER}/" + "x" * 5000,
    "cyrillic-owner": "squ\u0430d-tests/x",
    "fullwidth-slash": f"{TEST_OWNER}\uff0fx",
    "zero-width": f"{TEST_OWNER}/x\u200b",
    "right-to-left": f"{TEST_OWNER}/x\u202egnp",
    "newline": f"{TEST_OWNER}/x\ny",
    "tab": f"{TEST_OWNER}/x\ty",
    "backslash": f"{TEST_OWNER}\\x",
}
HOSTILE_BRANCHES = {
    "dash-rf": "-rf",
    "option": "--upload-pack=touch /tmp/x",
    "dot-dot": "feature/../../main",
    "leading-dot": ".hidden",
    "lock": "x.lock",
    "command-substitution": "$(id)",
    "backticks": "`id`",
    "semicolon": "a;id",
    "space": "a b",
    "refspec": "main:refs/heads/victim",
    "caret": "main^",
    "tilde": "main~1",
    "at-brace": "@{-1}",
    "colon": "a:b",
    "percent": "%2e%2e",
    "very-long": "b" * 5000,
    "cyrillic": "f\u0435ature",
    "newline": "a\nb",
}
HOSTILE_IDS = {
    "dot-dot": "..",
    "traversal": "..%2F..%2Fetc%2Fpasswd",
    "dash-rf": "-rf",
    "command-substitution": "$(id)",
    "percent-dots": "%2e%2e",
    "sql": "' OR '1'='1",
    "very-long": "i" * 5000,
    "cyrillic": "\u0430" * 32,
}
# Commit messages that would do something if a shell ever read them, and text git itself could mistake.
HOSTILE_MESSAGES = [
    "$(touch /tmp/pwned)",
    "`touch /tmp/pwned`",
    "'; touch /tmp/pwned; echo '",
    '"; touch /tmp/pwned; echo "',
    "--amend",
    "-rf",
    "line one\n\nline three with $HOME and \\n",
]


def outside_calls(fake_e2b, fake_github) -> int:
    return len(fake_e2b.journal) + len(fake_github.journal)


@pytest.mark.parametrize("repository", HOSTILE_REPOSITORIES.values(), ids=HOSTILE_REPOSITORIES.keys())
async def test_a_hostile_repository_name_is_422_and_github_is_not_asked(
    app_client, fake_github, github_routes, db_session, repository
):
    before = await db_session.scalar(select(func.count()).select_from(SquadRow))

    response = await app_client.post(
        "/api/v1/squads", json={"name": "hostile", "repository": repository}, headers=OPERATOR
    )

    assert response.status_code == 422, response.text
    assert all(route.call_count == 0 for route in github_routes.routes), "GitHub was asked about it"
    assert await db_session.scalar(select(func.count()).select_from(SquadRow)) == before


@pytest.mark.parametrize("branch", HOSTILE_BRANCHES.values(), ids=HOSTILE_BRANCHES.keys())
@pytest.mark.parametrize("endpoint", ["/api/v1/git/branch", "/api/v1/git/push", "/api/v1/github/pull-requests"])
async def test_a_hostile_branch_is_422_and_nothing_runs(squad_a, fake_e2b, fake_github, endpoint, branch):
    ids = {"task_id": squad_a.task["id"]} if "pull-requests" in endpoint else {"sandbox_id": squad_a.sandbox["id"]}
    calls = outside_calls(fake_e2b, fake_github)

    response = await squad_a.call("POST", endpoint, json=ids | {"branch": branch})

    assert response.status_code == 422, response.text
    assert outside_calls(fake_e2b, fake_github) == calls, "a hostile branch reached E2B or GitHub"


@pytest.mark.parametrize("value", HOSTILE_IDS.values(), ids=HOSTILE_IDS.keys())
@pytest.mark.parametrize(
    ("method", "template", "body_field"),
    [
        ("GET", "/api/v1/tasks/{}", None),
        ("PATCH", "/api/v1/tasks/{}", None),
        ("GET", "/api/v1/sandboxes/{}", None),
        ("DELETE", "/api/v1/sandboxes/{}", None),
        ("POST", "/api/v1/sandboxes", "task_id"),
        ("POST", "/api/v1/git/clone", "sandbox_id"),
        ("POST", "/api/v1/tasks/{}/assign", None),
    ],
)
async def test_a_hostile_id_finds_nothing_and_reaches_no_outside_service(
    squad_a, fake_e2b, fake_github, method, template, body_field, value
):
    calls = outside_calls(fake_e2b, fake_github)
    path = template.format(value) if "{}" in template else template
    body = {body_field: value} if body_field else ({"agent_id": squad_a.agent["id"]} if "assign" in path else None)

    response = await squad_a.call(method, path, json=body) if body else await squad_a.call(method, path)

    assert response.status_code in (404, 405, 422), f"{method} {path[:80]}: {response.status_code} {response.text}"
    assert outside_calls(fake_e2b, fake_github) == calls


@pytest.mark.parametrize("field", ["agent_id", "task_id", "status", "cursor", "limit"])
async def test_a_hostile_list_filter_is_refused_or_narrows_to_nothing(squad_a, field):
    for value in HOSTILE_IDS.values():
        response = await squad_a.call("GET", "/api/v1/tasks", params={field: value})

        assert response.status_code in (200, 400, 422), f"{field}={value[:40]!r}: {response.status_code}"
        if response.status_code == 200:
            assert response.json() == [] or field == "task_id", f"{field}={value[:40]!r} widened the list"


@pytest.mark.slow
async def test_hostile_commit_messages_are_committed_as_the_very_text_sent(squad_a, fake_e2b, fake_github):
    sandbox = {"sandbox_id": squad_a.sandbox["id"]}
    workspace = fake_e2b.workspace(squad_a.sandbox["e2b_sandbox_id"])
    assert (await squad_a.call("POST", "/api/v1/git/clone", json=sandbox)).status_code == 200
    assert (
        await squad_a.call("POST", "/api/v1/git/branch", json=sandbox | {"branch": "agent/hostile"})
    ).status_code == 200

    for number, message in enumerate(HOSTILE_MESSAGES):
        (workspace / "repo" / f"change-{number}.txt").write_text(message)
        committed = await squad_a.call("POST", "/api/v1/git/commit", json=sandbox | {"message": message})
        assert committed.status_code == 200, committed.text
    pushed = await squad_a.call("POST", "/api/v1/git/push", json=sandbox | {"branch": "agent/hostile"})

    assert pushed.status_code == 200, pushed.text
    log = fake_github.branch_log(squad_a.owner, squad_a.repo_name, "agent/hostile")
    assert [entry["message"].rstrip("\n") for entry in log[: len(HOSTILE_MESSAGES)]] == [
        message.rstrip("\n") for message in reversed(HOSTILE_MESSAGES)
    ]
    assert not (workspace / "tmp" / "pwned").exists() and not any(workspace.rglob("pwned"))
