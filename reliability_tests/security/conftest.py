"""Fixtures of the security gates: two squads with everything a squad owns, and the fuzz report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from fixtures.api_squad import ApiSquad, make_squad

FUZZ_COUNTS = pytest.StashKey[dict[str, int]]()


@dataclass
class Tenant:
    """A squad through the API with one of each resource: the ids tenancy tests aim at each other."""

    api: ApiSquad
    task: dict[str, Any]
    sandbox: dict[str, Any]

    @property
    def id(self) -> str:
        return self.api.squad["id"]

    @property
    def ids(self) -> dict[str, str]:
        return {"task": self.task["id"], "agent": self.api.agent["id"], "sandbox": self.sandbox["id"]}

    @property
    def secrets(self) -> list[str]:
        """What must never appear in an answer to another squad: its ids, name and token."""
        return [*self.ids.values(), self.id, self.api.squad["name"], self.api.squad["token"]]


async def make_tenant(app_client, fake_github) -> Tenant:
    api = await make_squad(app_client, fake_github)
    task = await api.new_task()
    sandbox = await api.new_sandbox(task["id"])
    return Tenant(api, task, sandbox)


@pytest.fixture
async def squad_a(app_client, fake_e2b, fake_github) -> Tenant:
    return await make_tenant(app_client, fake_github)


@pytest.fixture
async def squad_b(app_client, fake_e2b, fake_github) -> Tenant:
    return await make_tenant(app_client, fake_github)


@pytest.fixture
def fuzz_report(request: pytest.FixtureRequest):
    """Record how many requests a fuzz test sent: in the JUnit XML and in the terminal summary."""

    def report(label: str, count: int) -> None:
        request.node.user_properties.append((f"fuzz requests: {label}", count))
        request.config.stash.setdefault(FUZZ_COUNTS, {})[label] = count

    return report


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    counts = config.stash.get(FUZZ_COUNTS, {})
    if counts:
        terminalreporter.section("fuzz requests")
        for label, count in counts.items():
            terminalreporter.write_line(f"{label}: {count} generated requests")
        terminalreporter.write_line(f"total: {sum(counts.values())} generated requests")
