"""The body limit, in process: every endpoint (unauthenticated and unknown ones too) refuses a body over
REQUEST_MAX_BODY_BYTES before anything parses it or looks at the token, and reads a body of unknown
length only until it passes the limit. The same over a real socket, with slow bodies: errors/
test_slow_and_large_requests.py."""

import asyncio
import json
from collections.abc import AsyncIterator

import anyio
import pytest
from sqlalchemy import func, select

from app.models import Squad, Task
from fixtures.credentials import CANARY_SQUAD_ADMIN_TOKEN
from fixtures.factories import squad_data

pytestmark = [pytest.mark.integration, pytest.mark.priority_p1]

LIMIT = 2048
OPERATOR = {"Authorization": f"Bearer {CANARY_SQUAD_ADMIN_TOKEN}"}


@pytest.fixture
async def limited(configured_platform):
    return await configured_platform(request_max_body_bytes=LIMIT, request_body_timeout_s=0.5)


class CountedBody:
    """A body of unknown length (sent chunked), counting how much of it the server asked for."""

    def __init__(self, chunks: int, size: int = 512, stall_after: int | None = None) -> None:
        self.chunks, self.size, self.stall_after = chunks, size, stall_after
        self.taken = 0
        self.stalled = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for number in range(self.chunks):
            if number == self.stall_after:
                self.stalled.set()
                await asyncio.Event().wait()  # a client that stops sending and never goes away
            self.taken += 1
            yield b"x" * self.size


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("POST", "/api/v1/squads", {}),  # no token at all: the body is refused before the token is asked for
        ("POST", "/api/v1/squads", OPERATOR),
        ("POST", "/api/v1/tasks", {"Authorization": "Bearer sq_nobody"}),
        ("PATCH", "/api/v1/tasks/x", {}),
        ("POST", "/no/such/route", {}),
        ("GET", "/health", {}),
    ],
)
async def test_a_declared_body_over_the_limit_is_413_on_every_endpoint(limited, method, path, headers):
    response = await limited.client.request(method, path, content=b"{" + b" " * LIMIT + b"}", headers=headers)

    assert response.status_code == 413, response.text
    assert "REQUEST_MAX_BODY_BYTES" in response.json()["detail"]
    assert response.headers["connection"] == "close"


async def test_a_body_at_the_limit_is_taken(limited, fake_github):
    body = squad_data()
    fake_github.create_repo(*body["repository"].split("/"))
    encoded = json.dumps(body).encode()
    padded = encoded[:-1] + b" " * (LIMIT - len(encoded)) + b"}"

    response = await limited.client.post(
        "/api/v1/squads", content=padded, headers=OPERATOR | {"Content-Type": "application/json"}
    )

    assert len(padded) == LIMIT
    assert response.status_code == 201, response.text


async def test_a_body_of_unknown_length_is_read_only_until_it_passes_the_limit(limited, db_session):
    body = CountedBody(chunks=1000)
    squads_before = await db_session.scalar(select(func.count()).select_from(Squad))

    response = await limited.client.post("/api/v1/squads", content=body, headers=OPERATOR)

    assert response.status_code == 413, response.text
    assert body.taken <= LIMIT // body.size + 1, f"the server asked for {body.taken} chunks of {body.size} bytes"
    assert await db_session.scalar(select(func.count()).select_from(Squad)) == squads_before


async def test_a_body_that_stops_arriving_is_408_once_its_time_is_up(limited, api_squad, db_session):
    body = CountedBody(chunks=3, size=10, stall_after=1)

    with anyio.fail_after(10):
        response = await limited.client.post("/api/v1/tasks", content=body, headers=api_squad.headers)

    assert response.status_code == 408, response.text
    assert "did not arrive within 0.5 s" in response.json()["detail"]
    assert body.stalled.is_set()
    tasks = await db_session.scalar(select(func.count()).select_from(Task).where(Task.squad_id == api_squad.id))
    assert tasks == 0


async def test_a_content_length_that_is_no_number_is_400(limited):
    response = await limited.client.post("/api/v1/tasks", content=b"{}", headers={"Content-Length": "1e3"})

    assert response.status_code == 400, response.text
    assert "Content-Length" in response.json()["detail"]


async def test_the_default_limit_is_one_mebibyte(app_client, api_squad):
    just_over = b'{"title": "x", "description": "' + b"y" * (1024 * 1024) + b'"}'

    response = await app_client.post("/api/v1/tasks", content=just_over, headers=api_squad.headers)

    assert response.status_code == 413, response.text
