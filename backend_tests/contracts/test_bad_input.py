"""Bad input to any operation of the fakes is refused as the real service refuses it, never with a traceback.

Every answer here is also checked against the official error schema by the suite's observer
(fixtures/openapi_contract.py), so "4xx" below means "4xx in the service's own error shape".
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from fixtures import http
from mocks.e2b import Sandbox
from mocks.e2b.connect_protocol import CONTENT_TYPE
from mocks.e2b.router import E2B_SANDBOX_URL
from mocks.github import FakeGitHub
from mocks.github.router import GITHUB_API_URL
from mocks.llm import FakeLLM
from mocks.llm.router import LLM_API_URL

pytestmark = [pytest.mark.contract, pytest.mark.priority_p1]

BROKEN_BODIES = [b'{"timeout": ', b"[1, 2]", b'"text"', b"null", b"\xff\xfe", b'{"timeout": "soon", "templateID": []}']
E2B_OPERATIONS = [
    ("POST", "/sandboxes"),
    ("POST", "/v2/sandboxes"),
    ("POST", "/sandboxes/{id}/timeout"),
    ("POST", "/sandboxes/{id}/refreshes"),
    ("POST", "/sandboxes/{id}/pause"),
    ("POST", "/sandboxes/{id}/resume"),
    ("POST", "/sandboxes/{id}/connect"),
    ("POST", "/v2/sandboxes/{id}/connect"),
]


@pytest.fixture
def router(e2b_routes: respx.MockRouter, github_routes: respx.MockRouter) -> respx.MockRouter:
    return github_routes


@pytest.fixture
async def gh(router: respx.MockRouter, fake_github: FakeGitHub, github_token: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the fake GitHub in process, with the token, and the repository acme/widgets."""
    fake_github.create_repo("acme", "widgets")
    async with http.AsyncClient(base_url=GITHUB_API_URL, headers={"Authorization": f"token {github_token}"}) as client:
        yield client


@pytest.mark.parametrize(("method", "path"), E2B_OPERATIONS, ids=[f"{m} {p}" for m, p in E2B_OPERATIONS])
async def test_e2b_refuses_broken_bodies_with_400(
    e2b_api: httpx.AsyncClient, sandbox: Sandbox, method: str, path: str
) -> None:
    statuses = []
    for body in BROKEN_BODIES:
        response = await e2b_api.request(
            method,
            path.format(id=sandbox.sandbox_id),
            content=body,
            headers={"Content-Type": "application/json"},
        )
        statuses.append(response.status_code)

    # pause and refreshes take an optional body: `null` is no body for them, as for the API's decoder
    assert all(status in (400, 204, 409) for status in statuses), statuses
    assert statuses.count(400) >= len(BROKEN_BODIES) - 1, statuses


async def test_envd_refuses_broken_uploads_and_start_requests_without_a_traceback(
    router: respx.MockRouter, sandbox: Sandbox
) -> None:
    headers = {"E2b-Sandbox-Id": sandbox.sandbox_id, "X-Access-Token": sandbox.envd_access_token}

    async with http.AsyncClient(base_url=E2B_SANDBOX_URL, headers=headers) as envd:
        answers = [
            await envd.post(
                "/files", content=b"--x\r\nbroken", headers={"Content-Type": "multipart/form-data; boundary=x"}
            ),
            await envd.post("/files", content=b"no boundary", headers={"Content-Type": "multipart/form-data"}),
            await envd.post("/files", content=b"x", headers={"Content-Type": "application/octet-stream"}),
            await envd.post(
                "/files",
                params={"path": "a"},
                content=b"not gzip",
                headers={"Content-Type": "application/octet-stream", "Content-Encoding": "gzip"},
            ),
            await envd.get("/files", params={"path": "a", "username": ""}),
        ]
        start = await envd.post(
            "/process.Process/Start", content=b"\x00\x00\x00\x00\x05[1,2]", headers={"Content-Type": CONTENT_TYPE}
        )
        wrong_type = await envd.post(
            "/process.Process/Start", content=b"{}", headers={"Content-Type": "application/json"}
        )

    assert [answer.status_code for answer in answers] == [400, 400, 400, 400, 404]
    assert start.status_code == 200 and b"invalid_argument" in start.content
    assert wrong_type.status_code == 415


@pytest.mark.parametrize(
    "params",
    [{"per_page": "lots"}, {"page": "-"}, {"state": 5}, {"sort": "nonsense", "direction": "sideways"}],
    ids=["per-page", "page", "state", "sort"],
)
async def test_github_list_pulls_survives_bad_query_parameters(gh: httpx.AsyncClient, params: dict) -> None:
    response = await gh.get("/repos/acme/widgets/pulls", params=params)

    assert response.status_code in (200, 422), response.text


@pytest.mark.parametrize("field", ["head", "base"])
async def test_github_create_pull_with_a_nul_byte_in_a_branch_is_422_like_github(
    gh: httpx.AsyncClient, field: str
) -> None:
    """Found by the schema fuzz: the NUL reached git's command line and the fake answered 500."""
    body = {"title": "t", "head": "feature", "base": "main"} | {field: "feature\u0000x"}

    response = await gh.post("/repos/acme/widgets/pulls", json=body)

    assert response.status_code == 422, response.text
    assert {"resource": "PullRequest", "field": field, "code": "invalid"} in response.json()["errors"]


@pytest.mark.parametrize("body", BROKEN_BODIES, ids=range(len(BROKEN_BODIES)))
async def test_github_create_pull_refuses_broken_bodies_with_400_or_422(gh: httpx.AsyncClient, body: bytes) -> None:
    response = await gh.post("/repos/acme/widgets/pulls", content=body)

    assert response.status_code in (400, 422), response.text
    assert response.json()["documentation_url"] == "https://docs.github.com/rest/pulls/pulls#create-a-pull-request"


@pytest.mark.parametrize(
    "path",
    [
        "/repos/acme/widgets/branches/%20bad..name",
        "/repos/acme/widgets/git/ref/heads/~x",
        "/repos/acme/widgets/pulls/x1",
    ],
    ids=["branch", "ref", "pull-number"],
)
async def test_github_refuses_odd_names_with_404(gh: httpx.AsyncClient, path: str) -> None:
    response = await gh.get(path)

    assert response.status_code == 404


LLM_BROKEN_BODIES = [
    *BROKEN_BODIES,
    b'{"model": "gpt-4o-mini", "messages": [null]}',
    b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [{"text": 1}]}]}',
    b'{"model": "gpt-4o-mini", "messages": [{"role": "assistant", "tool_calls": [{"id": 1}]}]}',
    b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]}',
    b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "tools": "all"}',
    b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}',
    b'{"model": ["gpt-4o-mini"], "messages": [{"role": "user", "content": "x"}]}',
    b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "n": 1.5}',
]


@pytest.mark.parametrize("body", LLM_BROKEN_BODIES, ids=range(len(LLM_BROKEN_BODIES)))
async def test_llm_chat_completions_refuse_broken_bodies_with_400(
    llm_routes: respx.MockRouter, fake_llm: FakeLLM, llm_api_key: str, body: bytes
) -> None:
    async with http.AsyncClient(base_url=LLM_API_URL, headers={"Authorization": f"Bearer {llm_api_key}"}) as llm:
        response = await llm.post("/chat/completions", content=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 400, response.text
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert fake_llm.conversations() == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/_fake/faults", b"{"),
        ("/_fake/faults", b"[]"),
        ("/_fake/time", b'{"advance_seconds": -1}'),
        ("/_fake/time", b'{"advance_seconds": "soon"}'),
        ("/_fake/repos", b'{"owner": "acme"}'),
        ("/_fake/repos", b'{"owner": "acme", "name": "../escape"}'),
        ("/_fake/rate_limit", b'{"token": "t", "remaining": "none"}'),
        ("/_fake/rate_limit", b'{"token": "t", "status": 500}'),
    ],
)
def test_the_admin_api_answers_bad_input_with_400(github_url: str, path: str, body: bytes) -> None:
    response = http.post(f"{github_url}{path}", content=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 400, response.text
    assert response.json()["error"]


@pytest.mark.parametrize("body", [b"{", b"[]", b'{"match": 5, "turns": [{}]}', b'{"match": "x", "turns": "all"}'])
def test_the_llm_admin_api_answers_bad_scripts_with_400(llm_url: str, body: bytes) -> None:
    response = http.post(f"{llm_url}/_fake/scripts", content=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 400, response.text
    assert response.json()["error"]
