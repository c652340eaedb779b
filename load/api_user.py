"""Board users: squads working their task board through the platform's API.

Each simulated user is one squad: it creates its repository in the fake GitHub, its squad and one
agent, then works the board the way people do — mostly reading (the board polls the task list and
opens cards), sometimes creating a task, now and then assigning one, which starts the pipeline.
Requests are named by route, so the statistics group them however many ids there are.
"""

import random
import uuid
from collections.abc import Callable
from typing import Any

# Helpers are `_`-prefixed modules beside this file: `locust -f load/` imports every other .py file
# in the tree (subfolders too) as a locustfile, and puts this folder on sys.path while it does.
import _preflight  # noqa: F401  (registers the start-up check of the targets)
import _slo  # noqa: F401  (registers the SLO gate and its options)
from _targets import fake_github_url, platform_url
from locust import HttpUser, between, task
from locust.exception import StopUser

from fixtures.factories import agent_data, repository_data, squad_data, task_data

TASKS_ROUTE = "/api/v1/tasks"
TASK_ROUTE = "/api/v1/tasks/{id}"
ASSIGN_ROUTE = "/api/v1/tasks/{id}/assign"
# Enough ids to read at random without the list growing for the whole run.
REMEMBERED_TASKS = 50


class BoardUser(HttpUser):
    host = platform_url()
    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        self.task_ids: list[str] = []
        self.todo_ids: list[str] = []
        repository = self._create_repository()
        if repository is None:
            raise StopUser()
        squad = self._expect(
            "POST", "/api/v1/squads", 201, json=squad_data(repository=repository), name="/api/v1/squads"
        )
        if squad is None:
            raise StopUser()
        # Set after the fake GitHub call on purpose: the squad's token goes to the platform only.
        self.client.headers["Authorization"] = f"Bearer {squad['token']}"
        agent = self._expect("POST", "/api/v1/agents", 201, json=agent_data(), name="/api/v1/agents")
        if agent is None:
            raise StopUser()
        self.agent_id: str = agent["id"]

    @task(6)
    def list_tasks(self) -> None:
        self._expect("GET", TASKS_ROUTE, 200, name=TASKS_ROUTE)

    @task(4)
    def read_task(self) -> None:
        if not self.task_ids:
            self.create_task()
            return
        task_id = random.choice(self.task_ids)
        self._expect(
            "GET",
            f"{TASKS_ROUTE}/{task_id}",
            200,
            name=TASK_ROUTE,
            check=lambda body: None if body.get("id") == task_id else f"asked for {task_id}, got {body.get('id')}",
        )

    @task(2)
    def create_task(self) -> None:
        created = self._expect("POST", TASKS_ROUTE, 201, json=task_data(), name=TASKS_ROUTE)
        if created is None:
            return
        self.task_ids = [*self.task_ids[-(REMEMBERED_TASKS - 1) :], created["id"]]
        self.todo_ids.append(created["id"])

    @task(1)
    def assign_task(self) -> None:
        if not self.todo_ids:
            self.create_task()
            return
        task_id = self.todo_ids.pop(0)
        assignment = {"agent_id": self.agent_id}
        self._expect("POST", f"{TASKS_ROUTE}/{task_id}/assign", 202, json=assignment, name=ASSIGN_ROUTE)

    def _create_repository(self) -> str | None:
        """A repository of its own in the fake GitHub, so pipelines of different users never meet."""
        # The random part keeps names unique across Locust worker processes, whose factories
        # count independently.
        repo = repository_data(name=f"board-{uuid.uuid4().hex[:12]}")
        created = self._expect(
            "POST",
            f"{fake_github_url()}/_fake/repos",
            201,
            json={"owner": repo["owner"], "name": repo["name"], "default_branch": "main"},
            name="fake GitHub /_fake/repos",
        )
        return None if created is None else f"{repo['owner']}/{repo['name']}"

    def _expect(
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
        with self.client.request(method, url, name=name, catch_response=True, **kwargs) as response:
            if response.status_code != status:
                response.failure(f"expected HTTP {status}, got {response.status_code}: {response.text[:200]}")
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
