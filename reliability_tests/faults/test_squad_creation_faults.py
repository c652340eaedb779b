"""The fault matrix at squad creation: the platform asks GitHub whether its token can push to the
squad's repository, and GitHub misbehaves. A transient fault is retried and the squad is made; one
that outlasts the retries is a 503 (GitHub's token refused: 502) naming GitHub, never a 4xx blaming
the client and never a 500, and no squad is stored. On the fault stack (short timeouts and backoff),
through the fake GitHub's admin API, narrowed to the test's repository."""

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from app.models import Squad
from fixtures import factories
from fixtures.outcomes import SECONDARY_RATE_LIMIT_ONCE, TIMEOUT_LATENCY_MS
from fixtures.platform_client import FakeGitHubAdmin, PlatformClient
from fixtures.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.errors]


@dataclass(frozen=True)
class Creation:
    """A squad about to be created for `repository`, which exists and the platform's token can push to."""

    stack: Stack
    github: FakeGitHubAdmin
    body: dict[str, str]

    @property
    def repository(self) -> str:
        return self.body["repository"]

    def fault(self, **rule: Any) -> dict[str, Any]:
        return self.github.add_fault(**rule, match={"repository": self.repository})


@dataclass(frozen=True)
class Fault:
    inject: Callable[[Creation], Any]
    status: int  # 201: retried and made
    said: str | None = None  # a part of the refusal's detail


FAULTS = {
    "github-5xx-always-is-503": Fault(
        lambda c: c.fault(operation="get_repository", status=502), 503, "GitHub had a server error"
    ),
    "github-5xx-once-is-retried": Fault(lambda c: c.fault(operation="get_repository", status=502, times=1), 201),
    "github-reset-always-is-503": Fault(
        lambda c: c.fault(operation="get_repository", kind="reset"), 503, "cannot reach GitHub"
    ),
    "github-timeout-once-is-retried": Fault(
        lambda c: c.fault(operation="get_repository", kind="latency", latency_ms=TIMEOUT_LATENCY_MS, times=1), 201
    ),
    "github-primary-rate-limit-past-the-cap-is-503": Fault(
        lambda c: c.github.set_rate_limit(c.stack.github_token, remaining=0, reset=int(time.time()) + 7200),
        503,
        "rate limit",
    ),
    "github-secondary-rate-limit-is-waited-out": Fault(
        lambda c: c.fault(operation="get_repository", **SECONDARY_RATE_LIMIT_ONCE),
        201,
    ),
    "github-refuses-the-platforms-token-is-502": Fault(
        lambda c: c.fault(operation="get_repository", status=401, body={"message": "Bad credentials"}),
        502,
        "GITHUB_TOKEN",
    ),
}
CENTRAL = {"github-5xx-always-is-503", "github-timeout-once-is-retried"}


def squads_named(database_url: str, name: str) -> int:
    """Squads of that name in the platform's database, read there directly."""

    async def count() -> int:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as connection:
                return await connection.scalar(select(func.count()).select_from(Squad).where(Squad.name == name))
        finally:
            await engine.dispose()

    return asyncio.run(count())


@pytest.fixture
def creation(fault_stack: Stack):
    github = FakeGitHubAdmin(fault_stack.github_url)
    body = factories.squad_data()
    github.create_repo(*body["repository"].split("/"))
    yield Creation(fault_stack, github, body)
    github.clear_faults()
    github.set_rate_limit(fault_stack.github_token, remaining=5000, limit=5000, reset=int(time.time()) + 3600)
    github.close()


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(fault, id=name, marks=[pytest.mark.priority_p0 if name in CENTRAL else pytest.mark.priority_p1])
        for name, fault in FAULTS.items()
    ],
)
def test_a_github_fault_while_a_squad_is_created_is_retried_or_answered_as_githubs(creation: Creation, fault):
    fault.inject(creation)
    platform = PlatformClient(creation.stack.base_url, admin_token=creation.stack.admin_token, timeout=60)

    response = platform.request(
        "POST", "/api/v1/squads", json=creation.body, headers={"Authorization": f"Bearer {creation.stack.admin_token}"}
    )
    platform.close()

    assert response.status_code == fault.status, response.text
    stored = squads_named(creation.stack.database_url or "", creation.body["name"])
    if fault.status == 201:
        assert stored == 1
        return
    detail = response.json()
    assert detail["service"] == "GitHub" and fault.said in detail["detail"], detail
    assert stored == 0, "a refused creation stored its squad"
    if fault.status == 503 and "rate limit" in (fault.said or ""):
        assert int(response.headers["retry-after"]) > 60
