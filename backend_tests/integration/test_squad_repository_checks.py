"""A squad's repository must be one the operator allows (ALLOWED_REPOSITORIES) and one each of the platform's
GitHub tokens can push to (GitHub's `permissions.push`, asked at creation). A refusal is a 4xx saying
why and stores nothing; GitHub failing to answer is not the client's mistake: 502/503 naming GitHub."""

import httpx
import pytest
from sqlalchemy import func, select

from app.models import Squad
from fixtures.credentials import CANARY_GITHUB_TOKEN, CANARY_SQUAD_ADMIN_TOKEN, canary_github_tokens
from fixtures.factories import TEST_OWNER, squad_data

pytestmark = [pytest.mark.integration, pytest.mark.priority_p0]

OPERATOR = {"Authorization": f"Bearer {CANARY_SQUAD_ADMIN_TOKEN}"}


async def squads_stored(db_session) -> int:
    return await db_session.scalar(select(func.count()).select_from(Squad))


def made_repository(fake_github, owner: str = TEST_OWNER) -> dict[str, str]:
    data = squad_data()
    name = data["repository"].split("/")[1]
    fake_github.create_repo(owner, name)
    return data | {"repository": f"{owner}/{name}"}


async def create(client: httpx.AsyncClient, body: dict[str, str]) -> httpx.Response:
    return await client.post("/api/v1/squads", json=body, headers=OPERATOR)


def repository_problem(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "repository"], problem
    return problem["msg"]


async def test_a_repository_outside_the_allowed_list_is_403_and_github_is_not_asked(
    app_client, fake_github, github_routes, db_session
):
    body = made_repository(fake_github, owner="someone-else")
    before = await squads_stored(db_session)

    response = await create(app_client, body)

    assert response.status_code == 403
    detail = response.json()["detail"]
    assert body["repository"] in detail and "ALLOWED_REPOSITORIES" in detail
    assert github_routes["get_repository"].call_count == 0
    assert await squads_stored(db_session) == before


async def test_with_nothing_allowed_every_repository_is_refused_naming_the_setting(configured_platform, fake_github):
    platform = await configured_platform(allowed_repositories="")

    response = await create(platform.client, made_repository(fake_github))

    assert response.status_code == 403
    assert "ALLOWED_REPOSITORIES" in response.json()["detail"] and "no repository" in response.json()["detail"]


@pytest.mark.parametrize(
    ("allowed", "owner", "name", "created"),
    [
        ("acme/*", "acme", "anything", True),
        ("ACME/*", "acme", "anything", True),
        ("acme/widgets", "acme", "widgets", True),
        ("acme/widgets", "Acme", "Widgets", True),
        ("acme/widgets", "acme", "widgets2", False),
        ("acme/widgets", "acme-corp", "widgets", False),
        ("acme/*", "acmecorp", "widgets", False),
        ("other/x, acme/widgets ,", "acme", "widgets", True),
    ],
)
async def test_entries_allow_one_repository_or_all_of_an_owners(
    configured_platform, fake_github, allowed, owner, name, created
):
    platform = await configured_platform(allowed_repositories=allowed)
    fake_github.create_repo(owner, name)

    response = await create(platform.client, squad_data(repository=f"{owner}/{name}"))

    assert response.status_code == (201 if created else 403), response.text


def test_a_malformed_entry_stops_the_platform_from_starting():
    from pydantic import ValidationError

    from app.settings import Settings

    with pytest.raises(ValidationError, match="ALLOWED_REPOSITORIES entry 'acme/../x'"):
        Settings(allowed_repositories="acme/*,acme/../x")


async def test_a_repository_that_does_not_exist_is_422(app_client, fake_github, db_session):
    before = await squads_stored(db_session)

    response = await create(app_client, squad_data())

    assert "does not exist" in repository_problem(response)
    assert await squads_stored(db_session) == before


async def test_a_repository_the_platforms_token_cannot_see_is_422(app_client, fake_github):
    body = made_repository(fake_github)
    fake_github.set_permission(*body["repository"].split("/"), CANARY_GITHUB_TOKEN, "none")

    response = await create(app_client, body)

    assert "cannot see it" in repository_problem(response)


@pytest.mark.parametrize("role", ["pull", "triage"])
async def test_a_repository_the_platforms_token_can_only_read_is_422(app_client, fake_github, db_session, role):
    body = made_repository(fake_github)
    fake_github.set_permission(*body["repository"].split("/"), CANARY_GITHUB_TOKEN, role)
    before = await squads_stored(db_session)

    response = await create(app_client, body)

    message = repository_problem(response)
    assert "can only read" in message and body["repository"] in message
    assert await squads_stored(db_session) == before


@pytest.mark.parametrize("role", ["push", "maintain", "admin"])
async def test_a_repository_the_token_can_push_to_makes_the_squad(app_client, fake_github, role):
    body = made_repository(fake_github)
    fake_github.set_permission(*body["repository"].split("/"), CANARY_GITHUB_TOKEN, role)

    response = await create(app_client, body)

    assert response.status_code == 201, response.text
    assert response.json()["repository"] == body["repository"]


async def test_an_answer_without_permissions_is_refused_rather_than_trusted(app_client, fake_github, github_routes):
    body = made_repository(fake_github)
    github_routes["get_repository"].respond(
        200,
        json={
            "full_name": body["repository"],
            "owner": {"login": TEST_OWNER},
            "clone_url": "https://github.com/x.git",
            "default_branch": "main",
        },
    )

    response = await create(app_client, body)

    assert "did not say" in repository_problem(response)


async def test_github_down_at_creation_is_503_naming_github_and_stores_nothing(
    app_client, fake_github, github_routes, db_session
):
    body = made_repository(fake_github)
    github_routes["get_repository"].respond(502, json={"message": "Server Error"})
    before = await squads_stored(db_session)

    response = await create(app_client, body)

    assert response.status_code == 503, response.text
    assert response.json()["service"] == "GitHub" and "server error" in response.json()["detail"].lower()
    assert await squads_stored(db_session) == before


async def test_github_unreachable_at_creation_is_503(app_client, fake_github, github_routes):
    body = made_repository(fake_github)
    github_routes["get_repository"].mock(side_effect=httpx.ConnectError("connection refused"))

    response = await create(app_client, body)

    assert response.status_code == 503 and response.json()["service"] == "GitHub", response.text


async def test_github_refusing_the_platforms_token_is_502_not_the_clients_fault(app_client, fake_github, github_routes):
    body = made_repository(fake_github)
    github_routes["get_repository"].respond(401, json={"message": "Bad credentials"})

    response = await create(app_client, body)

    assert response.status_code == 502, response.text
    assert "GITHUB_TOKEN" in response.json()["detail"]
    assert CANARY_GITHUB_TOKEN not in response.text


async def test_github_rate_limited_past_the_cap_is_503_with_retry_after(app_client, fake_github):
    body = made_repository(fake_github)
    fake_github.set_rate_limit(CANARY_GITHUB_TOKEN, remaining=0, reset=int(fake_github.time()) + 7200)

    response = await create(app_client, body)

    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 60
    assert "rate limit" in response.json()["detail"]


async def test_with_several_tokens_each_must_push_and_a_refusal_names_the_tokens_setting_not_the_token(
    configured_platform, fake_github
):
    first, extra = canary_github_tokens(2)
    fake_github.add_token(extra)
    platform = await configured_platform(github_extra_tokens=extra)
    readable = made_repository(fake_github)
    fake_github.set_permission(*readable["repository"].split("/"), extra, "pull")
    pushable = made_repository(fake_github)

    refused = await create(platform.client, readable)
    created = await create(platform.client, pushable)

    message = repository_problem(refused)
    assert message.startswith("the platform's GitHub token (token 1 of GITHUB_EXTRA_TOKENS) can only read"), message
    assert extra not in refused.text and first not in refused.text
    assert created.status_code == 201, created.text
