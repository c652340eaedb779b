"""The contract suite's own footing: every operation the fakes serve is checked against an official
operation, and specs/ is exactly what specs/regenerate.py extracts from the official descriptions."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
from starlette.routing import Route

from fixtures.openapi_contract import SPECS, ServiceContract
from mocks.common.service import ObservedResponse
from mocks.e2b import FakeE2B
from mocks.e2b.app import build_app as build_e2b_app
from mocks.github import FakeGitHub
from mocks.github.app import build_app as build_github_app
from mocks.llm import FakeLLM
from mocks.llm.app import build_app as build_llm_app

pytestmark = [pytest.mark.contract, pytest.mark.priority_p1]

# operation of the fake -> (a request it answers, the official operation it must be checked against); where the
# request is the official path with EXAMPLE_VALUES in its placeholders, the official operation alone, as
# "METHOD /path" of the service's own contract (CONTRACTS).
CHECKED: dict[str, dict[str, tuple[str, str, str, str] | str]] = {
    "e2b": {
        "health": "GET /health",
        "create_sandbox": ("POST", "/v2/sandboxes", "e2b", "POST /sandboxes"),
        "list_sandboxes": "GET /v2/sandboxes",
        "get_sandbox": "GET /sandboxes/{sandboxID}",
        "kill_sandbox": "DELETE /sandboxes/{sandboxID}",
        "set_sandbox_timeout": "POST /sandboxes/{sandboxID}/timeout",
        "refresh_sandbox": "POST /sandboxes/{sandboxID}/refreshes",
        "pause_sandbox": "POST /sandboxes/{sandboxID}/pause",
        "resume_sandbox": "POST /sandboxes/{sandboxID}/resume",
        "connect_sandbox": ("POST", "/v2/sandboxes/abc/connect", "e2b", "POST /sandboxes/{sandboxID}/connect"),
        "envd_health": ("GET", "/health", "envd", "GET /health"),
        "files_read": ("GET", "/files", "envd", "GET /files"),
        "files_write": ("POST", "/files", "envd", "POST /files"),
    },
    "github": {
        "get_repository": "GET /repos/{owner}/{repo}",
        "get_branch": "GET /repos/{owner}/{repo}/branches/{branch}",
        "get_ref": "GET /repos/{owner}/{repo}/git/ref/{ref}",
        "list_pull_requests": "GET /repos/{owner}/{repo}/pulls",
        "create_pull_request": "POST /repos/{owner}/{repo}/pulls",
        "get_pull_request": "GET /repos/{owner}/{repo}/pulls/{pull_number}",
        "update_pull_request": "PATCH /repos/{owner}/{repo}/pulls/{pull_number}",
        "merge_pull_request": "PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge",
        "check_if_merged": "GET /repos/{owner}/{repo}/pulls/{pull_number}/merge",
        "list_reviews": "GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews",
        "create_review": "POST /repos/{owner}/{repo}/pulls/{pull_number}/reviews",
        "get_review": "GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}",
        "list_review_comments": "GET /repos/{owner}/{repo}/pulls/{pull_number}/comments",
        "create_review_comment": "POST /repos/{owner}/{repo}/pulls/{pull_number}/comments",
        "list_issue_comments": "GET /repos/{owner}/{repo}/issues/{issue_number}/comments",
        "create_issue_comment": "POST /repos/{owner}/{repo}/issues/{issue_number}/comments",
        "list_hooks": "GET /repos/{owner}/{repo}/hooks",
        "create_hook": "POST /repos/{owner}/{repo}/hooks",
        "get_hook": "GET /repos/{owner}/{repo}/hooks/{hook_id}",
        "update_hook": "PATCH /repos/{owner}/{repo}/hooks/{hook_id}",
        "delete_hook": "DELETE /repos/{owner}/{repo}/hooks/{hook_id}",
        "get_hook_config": "GET /repos/{owner}/{repo}/hooks/{hook_id}/config",
        "update_hook_config": "PATCH /repos/{owner}/{repo}/hooks/{hook_id}/config",
        "ping_hook": "POST /repos/{owner}/{repo}/hooks/{hook_id}/pings",
        "test_hook": "POST /repos/{owner}/{repo}/hooks/{hook_id}/tests",
        "list_hook_deliveries": "GET /repos/{owner}/{repo}/hooks/{hook_id}/deliveries",
        "get_hook_delivery": "GET /repos/{owner}/{repo}/hooks/{hook_id}/deliveries/{delivery_id}",
        "redeliver_hook_delivery": "POST /repos/{owner}/{repo}/hooks/{hook_id}/deliveries/{delivery_id}/attempts",
        "get_rate_limit": "GET /rate_limit",
    },
    "llm": {
        "create_chat_completion": ("POST", "/v1/chat/completions", "openai", "POST /chat/completions"),
        "list_models": ("GET", "/v1/models", "openai", "GET /models"),
        "retrieve_model": ("GET", "/v1/models/gpt-4o:2024", "openai", "GET /models/{model}"),
    },
}
# The description each fake is checked against.
CONTRACTS = {"e2b": "e2b", "github": "github", "llm": "openai"}
EXAMPLE_VALUES = {
    "sandboxID": "abc",
    "owner": "a",
    "repo": "b",
    "branch": "x/y",
    "ref": "heads/x/y",
    "pull_number": "1",
    "issue_number": "1",
    "review_id": "7",
    "hook_id": "3",
    "delivery_id": "9",
}


def checked(service: str) -> dict[str, tuple[str, str, str, str]]:
    """CHECKED[service], each operation as (method, request path, description, official operation)."""
    expanded = {}
    for name, entry in CHECKED[service].items():
        if isinstance(entry, str):
            method, path = entry.split(" ", 1)
            request_path = re.sub(r"\{(\w+)\}", lambda placeholder: EXAMPLE_VALUES[placeholder[1]], path)
            entry = (method, request_path, CONTRACTS[service], entry)
        expanded[name] = entry
    return expanded


# Operations that are no OpenAPI operation, and what checks them instead.
NOT_OPENAPI = {
    "e2b": {
        "process_start": "envd's Connect RPC: test_envd_process_stream.py reads its envelopes",
        "not_found": "catch-all: its 404 must still be the service's Error JSON (fixtures/openapi_contract.py)",
    },
    "github": {
        "git_info_refs": "git smart HTTP: real git in test_github_git_and_pulls.py",
        "git_upload_pack": "git smart HTTP: real git",
        "git_receive_pack": "git smart HTTP: real git",
        "web_pull_request": "an HTML page standing in for github.com's pull request page",
        "health": "the fake's readiness probe (not part of GitHub's API)",
        "not_found": "catch-all: its 404 must still be GitHub's basic-error JSON",
    },
    "llm": {
        "health": "the fake's readiness probe (not part of OpenAI's API)",
        "not_found": "catch-all: its 404 must still be OpenAI's ErrorResponse JSON",
    },
}


def served_operations(app: object) -> set[str]:
    """The operation names of every route of a fake's app (admin routes under /_fake/ excluded)."""
    names: set[str] = set()
    pending = [app]
    while pending:
        node = pending.pop()
        for attribute in ("app", "rest", "envd"):
            if hasattr(node, attribute):
                pending.append(getattr(node, attribute))
        for route in getattr(node, "routes", []):
            if isinstance(route, Route) and not route.path.startswith("/_fake/"):
                names.add(route.endpoint.__name__)
    return names


def built_app(service: str, tmp_path: Path) -> object:
    if service == "e2b":
        return build_e2b_app(FakeE2B(workspace_root=tmp_path))
    if service == "github":
        return build_github_app(FakeGitHub(root=tmp_path))
    return build_llm_app(FakeLLM())


@pytest.mark.parametrize("service", ["e2b", "github", "llm"])
def test_every_operation_of_the_fakes_is_checked_against_an_official_one(service: str, tmp_path: Path) -> None:
    app = built_app(service, tmp_path)
    contract = ServiceContract(CONTRACTS[service])

    served = served_operations(app)
    operations = checked(service)
    found = {
        name: contract.operation_key(ObservedResponse(name, method, path, "", 200, {}, b"", None, False))
        for name, (method, path, *_) in operations.items()
    }

    assert served == set(CHECKED[service]) | set(NOT_OPENAPI[service])
    assert found == {name: (spec, key) for name, (_, _, spec, key) in operations.items()}


def _regenerate_module():
    spec = importlib.util.spec_from_file_location("regenerate", SPECS / "regenerate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def regenerate():
    """specs/regenerate.py, when the official descriptions it reads are on this machine."""
    module = _regenerate_module()
    source = module.official_descriptions()
    if not source.is_dir():
        pytest.skip(f"the official descriptions are not at {source} (set AGENT_SQUAD_SPECS)")
    return module


LICENSES = {"github": "LICENSE.github", "e2b": "LICENSE.e2b", "envd": "LICENSE.e2b", "openai": "LICENSE.openai"}


@pytest.mark.parametrize("name", ["github", "e2b", "envd", "openai"])
def test_specs_are_what_regenerate_extracts_and_name_their_source(name: str, regenerate) -> None:
    source = regenerate.official_descriptions()
    kept = json.loads((SPECS / f"{name}.schemas.json").read_text())
    if name == "github":
        document = json.loads((source / "github" / "api.github.com.json").read_text())
        expected = regenerate.extract(document, regenerate.GITHUB_OPERATIONS, regenerate.GITHUB_ROOTS)
    elif name == "openai":
        from ruamel.yaml import YAML

        document = YAML(typ="safe").load((source / "openai" / "openapi.yaml").read_text())
        expected = regenerate.extract(document, regenerate.OPENAI_OPERATIONS, regenerate.OPENAI_ROOTS)
    else:
        from ruamel.yaml import YAML

        path = source / "e2b" / ("openapi.yml" if name == "e2b" else "envd/envd.yaml")
        document = YAML(typ="safe").load(path.read_text())
        operations, roots = (
            (regenerate.E2B_OPERATIONS, regenerate.E2B_ROOTS)
            if name == "e2b"
            else (regenerate.ENVD_OPERATIONS, regenerate.ENVD_ROOTS)
        )
        expected = regenerate.extract(document, operations, roots)

    assert {key: kept[key] for key in ("operations", "components")} == json.loads(json.dumps(expected))
    assert re.search(r"\d+\.\d+\.\d+", kept["source"]), f"the source names no version: {kept['source']}"
    assert (SPECS / LICENSES[name]).is_file()


def test_webhook_schemas_are_what_regenerate_extracts_and_name_their_source(regenerate) -> None:
    source = regenerate.official_descriptions()
    kept = json.loads((SPECS / "github.webhooks.json").read_text())
    document = json.loads((source / "github" / "api.github.com.json").read_text())

    expected = regenerate.extract_webhooks(document, regenerate.GITHUB_WEBHOOKS)

    assert {key: kept[key] for key in ("webhooks", "components")} == json.loads(json.dumps(expected))
    assert set(kept["webhooks"]) == set(regenerate.GITHUB_WEBHOOKS)
    assert re.search(r"\d+\.\d+\.\d+", kept["source"]), f"the source names no version: {kept['source']}"


def test_the_official_descriptions_are_looked_for_where_agent_squad_specs_says(monkeypatch, tmp_path: Path) -> None:
    regenerate = _regenerate_module()

    monkeypatch.setenv("AGENT_SQUAD_SPECS", str(tmp_path))
    assert regenerate.official_descriptions() == tmp_path
    assert regenerate.official_descriptions("elsewhere") == Path("elsewhere")
    monkeypatch.delenv("AGENT_SQUAD_SPECS")
    assert regenerate.official_descriptions() == regenerate.DEFAULT_SOURCE
