"""The compose environment as it runs: what `make test-compose` (tools/compose_run.py) checks with a
real engine, once the deployment is up behind nginx. It passes the engine and the targets in the
environment: SQUAD_COMPOSE_DOCKER (the docker CLI), SQUAD_COMPOSE_COMMAND (Compose, as a JSON list),
SQUAD_COMPOSE_DEPLOY_PROJECT and SQUAD_BASE_URL (nginx), FAKE_GITHUB_URL and the credentials.

Without them (a plain `pytest environment_tests`, which needs no engine) every test here is skipped,
saying so; `make test-compose` fails if they do not all run."""

import json
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from environment_tests.environment_files import REPO_ROOT
from tools.compose_run import containers_argv


@dataclass(frozen=True)
class LiveEngine:
    docker: str
    compose: list[str]
    deploy_project: str

    def run(self, argv: Sequence[str], timeout: float = 120, env: dict[str, str] | None = None):
        return subprocess.run(
            list(argv), cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, env=os.environ | (env or {})
        )

    def containers(self, project: str, service: str) -> list[str]:
        listed = self.run(containers_argv(self.docker, project, service))
        return listed.stdout.split()

    def state(self, container: str) -> dict:
        inspected = self.run([self.docker, "inspect", "--format", "{{json .State}}", container])
        assert inspected.returncode == 0, inspected.stderr
        return json.loads(inspected.stdout)


@pytest.fixture(scope="session")
def live_engine() -> LiveEngine:
    docker, compose = os.environ.get("SQUAD_COMPOSE_DOCKER"), os.environ.get("SQUAD_COMPOSE_COMMAND")
    if not docker or not compose:
        pytest.skip("needs a container engine and the deployment stack: run by `make test-compose`")
    return LiveEngine(docker, json.loads(compose), os.environ["SQUAD_COMPOSE_DEPLOY_PROJECT"])
