"""Creating a squad takes the operator's token (SQUAD_ADMIN_TOKEN): a careless or hostile client without
it, with a squad's token or a guess is refused before anything is stored or GitHub is asked; a platform
whose operator set no token creates no squad at all, and says which setting turns it on."""

import logging

import pytest
from sqlalchemy import func, select

from app.models import Squad
from app.redaction import RedactingFilter
from app.settings import Settings
from fixtures.credentials import CANARY_SQUAD_ADMIN_TOKEN
from fixtures.factories import squad_data

pytestmark = [pytest.mark.integration, pytest.mark.priority_p0]

OPERATOR = {"Authorization": f"Bearer {CANARY_SQUAD_ADMIN_TOKEN}"}


@pytest.fixture
def body(fake_github) -> dict[str, str]:
    data = squad_data()
    fake_github.create_repo(*data["repository"].split("/"))
    return data


async def squads_stored(db_session) -> int:
    return await db_session.scalar(select(func.count()).select_from(Squad))


async def test_the_operators_token_creates_a_squad_and_appears_nowhere_in_the_answer(app_client, body):
    response = await app_client.post("/api/v1/squads", json=body, headers=OPERATOR)

    assert response.status_code == 201, response.text
    assert CANARY_SQUAD_ADMIN_TOKEN not in response.text
    assert not any(CANARY_SQUAD_ADMIN_TOKEN in value for value in response.headers.values())


async def test_without_a_token_it_is_401_saying_which_token(app_client, body, db_session, github_routes):
    before = await squads_stored(db_session)

    response = await app_client.post("/api/v1/squads", json=body)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "SQUAD_ADMIN_TOKEN" in response.json()["detail"]
    assert await squads_stored(db_session) == before
    assert github_routes["get_repository"].call_count == 0


@pytest.mark.parametrize(
    "token",
    [
        "sqadmin_guess",
        CANARY_SQUAD_ADMIN_TOKEN[:-1],
        CANARY_SQUAD_ADMIN_TOKEN + "x",
        CANARY_SQUAD_ADMIN_TOKEN.upper(),
        CANARY_SQUAD_ADMIN_TOKEN.replace("_", "-"),
    ],
    ids=["guess", "one-short", "one-long", "other-case", "look-alike"],
)
async def test_a_wrong_token_is_403_and_stores_nothing(app_client, body, db_session, github_routes, token):
    before = await squads_stored(db_session)

    response = await app_client.post("/api/v1/squads", json=body, headers={"Authorization": f"Bearer {token}"})

    assert response.status_code in (401, 403), response.text
    assert response.json()["detail"]
    assert await squads_stored(db_session) == before
    assert github_routes["get_repository"].call_count == 0


async def test_a_squads_own_token_cannot_create_squads(app_client, body, api_squad):
    response = await app_client.post("/api/v1/squads", json=body, headers=api_squad.headers)

    assert response.status_code == 403
    assert "SQUAD_ADMIN_TOKEN" in response.json()["detail"]


async def test_a_platform_without_an_operator_token_refuses_every_creation_naming_the_setting(
    configured_platform, body, db_session
):
    platform = await configured_platform(squad_admin_token="")
    before = await squads_stored(db_session)

    answers = [
        await platform.client.post("/api/v1/squads", json=body, headers=headers)
        for headers in ({}, OPERATOR, {"Authorization": "Bearer "}, {"Authorization": "Bearer x"})
    ]

    for response in answers:
        assert response.status_code == 403, response.text
        assert "SQUAD_ADMIN_TOKEN" in response.json()["detail"] and "operator" in response.json()["detail"]
    assert await squads_stored(db_session) == before


def test_the_operator_token_is_a_secret_the_platform_redacts():
    settings = Settings(squad_admin_token="sqadmin_operator_chose_this_0123456789abcdef")
    record = logging.LogRecord(
        "app",
        logging.INFO,
        __file__,
        1,
        "request with Bearer %s",
        ("sqadmin_operator_chose_this_0123456789abcdef",),
        None,
    )

    RedactingFilter(settings.secrets()).filter(record)

    assert "sqadmin_operator_chose_this_0123456789abcdef" in settings.secrets()
    assert record.getMessage() == "request with Bearer ***"
