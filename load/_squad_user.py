"""What every simulated user of the board does first: get a squad, and call the API strictly.

A squad needs a repository in the fake GitHub (each user makes its own, so pipelines of different
users never meet), the squad itself (made with the operator's SQUAD_ADMIN_TOKEN; the squad's own
token authorises the user's later calls) and an agent.
Data comes from the shared factories (fixtures/factories.py), the same as every other suite's.
"""

import os
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from _answers import unexpected
from locust import HttpUser
from locust.contrib.fasthttp import FastHttpUser
from locust.exception import StopUser

from fixtures.factories import agent_data, repository_data, squad_data
from fixtures.targets import ADMIN_TOKEN_VARIABLE, FAKE_GITHUB, PLATFORM

OptionT = TypeVar("OptionT")


def admin_token() -> str:
    """The platform's SQUAD_ADMIN_TOKEN, which creating a squad takes (`python -m tools.stack run` gives it
    to the command it runs; `make up` prints it). The preflight refuses a run without it."""
    return os.environ.get(ADMIN_TOKEN_VARIABLE, "")


class SquadSetup:
    """A squad of the user's own and strict requests; for either of Locust's HTTP clients (SquadUser,
    FastSquadUser). The squad's token goes with every request `expect` sends."""

    client: Any
    squad_headers: dict[str, str] = {}

    token: str
    squad_id: str
    repository: str
    agent_id: str

    def create_own_squad(self, *, with_agent: bool = True) -> None:
        """A repository, a squad and (by default) an agent of this user's own; stops the user if any fails."""
        repository = self.create_repository()
        if repository is None:
            raise StopUser()
        squad = self.expect(
            "POST",
            "/api/v1/squads",
            201,
            json=squad_data(repository=repository),
            name="/api/v1/squads",
            headers={"Authorization": f"Bearer {admin_token()}"},
        )
        if squad is None:
            raise StopUser()
        self.repository = repository
        self.use_squad(squad["id"], squad["token"])
        if with_agent:
            agent = self.expect("POST", "/api/v1/agents", 201, json=agent_data(), name="/api/v1/agents")
            if agent is None:
                raise StopUser()
            self.agent_id = agent["id"]

    def option(self, name: str, default: OptionT) -> OptionT:
        """The run's command-line option `name` (`--name` with dashes), or `default` for a user made
        without locust's parser."""
        options = self.environment.parsed_options
        return getattr(options, name) if options else default

    def use_squad(self, squad_id: str, token: str) -> None:
        # Set after the fake GitHub call on purpose: the squad's token goes to the platform only.
        self.squad_id, self.token = squad_id, token
        self.squad_headers = {"Authorization": f"Bearer {token}"}

    def create_repository(self) -> str | None:
        """A repository of its own in the fake GitHub; "owner/name", or None when that failed."""
        # The random part keeps names unique across Locust worker processes, whose factories
        # count independently.
        repo = repository_data(name=f"load-{uuid.uuid4().hex[:12]}")
        created = self.expect(
            "POST",
            f"{FAKE_GITHUB.url()}/_fake/repos",
            201,
            json={"owner": repo["owner"], "name": repo["name"], "default_branch": "main"},
            name="fake GitHub /_fake/repos",
        )
        return None if created is None else f"{repo['owner']}/{repo['name']}"

    def expect(
        self,
        method: str,
        url: str,
        status: int,
        *,
        name: str,
        check: Callable[[Any], str | None] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Send a request that must answer `status` with JSON (and pass `check`, which returns
        what is wrong or None); anything else is a failure carrying the reason. Returns the body."""
        headers = {**self.squad_headers, **kwargs.pop("headers", {})}
        with self.client.request(method, url, name=name, catch_response=True, headers=headers, **kwargs) as response:
            if response.status_code != status:
                response.failure(unexpected(response, status))
                return None
            try:
                body = response.json()
            except ValueError:
                response.failure(f"HTTP {status} but the body is not JSON: {response.text[:200]}")
                return None
            problem = check(body) if check else None
            if problem:
                response.failure(problem)
                return None
            return body


class SquadUser(SquadSetup, HttpUser):
    abstract = True
    host = PLATFORM.url()

    def use_squad(self, squad_id: str, token: str) -> None:
        super().use_squad(squad_id, token)
        # The session's own requests, not only `expect`'s, carry the token (sandbox and assignment users).
        self.client.headers["Authorization"] = f"Bearer {token}"


class FastSquadUser(SquadSetup, FastHttpUser):
    """On Locust's leaner client (geventhttpclient): a fraction of requests' CPU per request, so a
    generator of board reads measures the platform rather than itself."""

    abstract = True
    host = PLATFORM.url()
