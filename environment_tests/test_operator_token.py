"""The operator's token (SQUAD_ADMIN_TOKEN) and the allowed repositories, wherever a stack is made: the
launcher gives each platform it starts a token of its own and tells the suites, compose gives the
platform and the suites the same one, and the repositories the suites make are allowed in both."""

import os
import subprocess
import sys

import pytest

from environment_tests.environment_files import environment
from fixtures.credentials import ADMIN_TOKEN_SHAPE
from fixtures.factories import TEST_OWNER, repository_data
from fixtures.platform_client import FakeGitHubAdmin, PlatformClient
from fixtures.stack import Stack, start_stack
from fixtures.targets import ADMIN_TOKEN_VARIABLE, TARGETS

pytestmark = [pytest.mark.integration, pytest.mark.priority_p0]

SUITE_RUNNERS = ["browser-tests", "locust-master", "locust-worker"]


def test_the_launcher_gives_the_platform_a_random_token_of_the_shape_the_secrets_scan_knows(native_stack: Stack):
    given = native_stack.platform.env or {}

    assert native_stack.admin_token and given[ADMIN_TOKEN_VARIABLE] == native_stack.admin_token
    assert ADMIN_TOKEN_SHAPE.fullmatch(native_stack.admin_token.encode())
    assert native_stack.credentials()[ADMIN_TOKEN_VARIABLE] == native_stack.admin_token


def test_the_launchers_token_creates_squads_on_its_platform_and_nothing_else_does(native_stack: Stack):
    repository = repository_data()
    FakeGitHubAdmin(native_stack.github_url).create_repo(repository["owner"], repository["name"])
    body = {"name": "launcher probe", "repository": f"{repository['owner']}/{repository['name']}"}
    platform = PlatformClient(native_stack.base_url, admin_token=native_stack.admin_token)

    created = platform.create_squad(**body)
    refused = platform.request("POST", "/api/v1/squads", json=body, headers={"Authorization": "Bearer sqadmin_x"})

    assert created["repository"] == body["repository"]
    assert refused.status_code == 403, refused.text


def test_a_token_in_the_environment_is_the_one_a_reused_stack_is_used_with():
    environ = {target.variable: target.default_url for target in TARGETS} | {ADMIN_TOKEN_VARIABLE: "chosen-token"}

    stack = start_stack(environ=environ, announce=lambda line: None)

    assert stack.admin_token == "chosen-token" and not any(service.started_here for service in stack.services())
    assert stack.credentials()[ADMIN_TOKEN_VARIABLE] == "chosen-token"


def test_a_reused_platform_without_the_variable_has_no_token_to_guess():
    environ = {target.variable: target.default_url for target in TARGETS}

    stack = start_stack(environ=environ, announce=lambda line: None)

    assert stack.admin_token is None and ADMIN_TOKEN_VARIABLE not in stack.credentials()


def test_the_launcher_allows_the_suites_repositories(native_stack: Stack):
    allowed = (native_stack.platform.env or {})["ALLOWED_REPOSITORIES"].split(",")

    assert f"{TEST_OWNER}/*" in allowed, allowed


@pytest.mark.parametrize("runner", SUITE_RUNNERS)
def test_compose_gives_each_suite_runner_the_platforms_token(compose, runner):
    platform = environment(compose["services"]["app"])

    assert environment(compose["services"][runner])[ADMIN_TOKEN_VARIABLE] == platform[ADMIN_TOKEN_VARIABLE]


def test_compose_allows_the_suites_repositories(compose):
    for name in ("app", "worker"):
        allowed = environment(compose["services"][name])["ALLOWED_REPOSITORIES"].split(",")
        assert f"{TEST_OWNER}/*" in allowed, f"compose's {name} allows {allowed}"


def test_locust_without_the_token_says_where_to_get_it_and_exits_non_zero(repo_root, live_stack: Stack, tmp_path):
    environ = {
        name: value
        for name, value in os.environ.items()
        if name != ADMIN_TOKEN_VARIABLE and not name.startswith(("LOCUST_", "LOAD_"))
    }
    result = subprocess.run(
        [sys.executable, "-m", "locust", "-f", "load/", "--headless", "--run-time", "2s"]
        + ["--html", str(tmp_path / "r.html"), "--csv", str(tmp_path / "s")],
        cwd=repo_root,
        env=environ | live_stack.environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1, result.stderr
    assert f"{ADMIN_TOKEN_VARIABLE} is not set" in result.stderr and "make up" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
