"""Fixtures of the security gates: two squads with everything a squad owns, and the fuzz report."""

from __future__ import annotations

import pytest

from fixtures.platform_client import AsyncPlatformClient
from fixtures.squads import Squad, make_squad

FUZZ_COUNTS = pytest.StashKey[dict[str, int]]()
FLOOD_FIGURES = pytest.StashKey[dict[str, dict[str, object]]]()


async def make_squad_owning_one_of_each(app_client, fake_github) -> Squad[AsyncPlatformClient]:
    """A squad through the API with one of each resource (`task`, `sandbox`): the ids tenancy tests aim
    at each other."""
    squad = await make_squad(app_client, fake_github)
    squad.task = await squad.new_task()
    squad.sandbox = await squad.new_sandbox(squad.task["id"])
    return squad


@pytest.fixture
async def squad_a(app_client, fake_e2b, fake_github) -> Squad[AsyncPlatformClient]:
    return await make_squad_owning_one_of_each(app_client, fake_github)


@pytest.fixture
async def squad_b(app_client, fake_e2b, fake_github) -> Squad[AsyncPlatformClient]:
    return await make_squad_owning_one_of_each(app_client, fake_github)


@pytest.fixture
def fuzz_report(request: pytest.FixtureRequest):
    """Record how many requests a fuzz test sent: in the JUnit XML and in the terminal summary."""

    def report(label: str, count: int) -> None:
        request.node.user_properties.append((f"fuzz requests: {label}", count))
        request.config.stash.setdefault(FUZZ_COUNTS, {})[label] = count

    return report


@pytest.fixture
def flood_report(request: pytest.FixtureRequest):
    """Record what a flood did (figures by name): in the JUnit XML and in the terminal summary."""

    def report(label: str, figures: dict[str, object]) -> None:
        for name, value in figures.items():
            request.node.user_properties.append((f"{label}: {name}", value))
        request.config.stash.setdefault(FLOOD_FIGURES, {})[label] = figures

    return report


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    floods = config.stash.get(FLOOD_FIGURES, {})
    if floods:
        terminalreporter.section("flood figures")
        for label, figures in floods.items():
            terminalreporter.write_line(f"{label}: " + ", ".join(f"{name} {value}" for name, value in figures.items()))
    counts = config.stash.get(FUZZ_COUNTS, {})
    if counts:
        terminalreporter.section("fuzz requests")
        for label, count in counts.items():
            terminalreporter.write_line(f"{label}: {count} generated requests")
        terminalreporter.write_line(f"total: {sum(counts.values())} generated requests")
