"""Git smart HTTP, served by the real `git http-backend` (as CGI) on the fake's bare repositories.

Authentication is GitHub's: HTTP Basic with a token as the password (user `x-access-token` or anything),
or the token as the user name. Without credentials, or with a bad token, the answer is 401 with
`WWW-Authenticate: Basic realm="GitHub"`, which real git reports as "Authentication failed".
"""

from __future__ import annotations

import asyncio
import base64
import binascii

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from mocks.github.bare_repo import git_environment
from mocks.github.state import FakeGitHub
from mocks.github.webhooks import ZERO_SHA

AUTH_CHALLENGE = {"WWW-Authenticate": 'Basic realm="GitHub"'}
BAD_CREDENTIALS = "Invalid username or token. Password authentication is not supported for Git operations.\n"
# Request headers git http-backend reads as CGI variables (HTTP_*).
FORWARDED_HEADERS = ("git-protocol", "content-encoding", "accept", "user-agent")


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return "", value.strip()
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


def authenticated_user(fake: FakeGitHub, request: Request) -> tuple[str, str] | Response:
    """(user, token) of the request's credentials, or the 401 to answer."""
    credentials = basic_credentials(request.headers.get("authorization"))
    if credentials is None:
        return PlainTextResponse("", 401, headers=AUTH_CHALLENGE)
    user, password = credentials
    if fake.is_valid_token(password):
        return user or fake.user_login, password
    if not password and fake.is_valid_token(user):
        return fake.user_login, user
    return PlainTextResponse(BAD_CREDENTIALS, 401, headers=AUTH_CHALLENGE)


def is_push(request: Request, service_path: str) -> bool:
    """A push: git-receive-pack itself, or the ref advertisement that starts one."""
    return service_path == "git-receive-pack" or request.query_params.get("service") == "git-receive-pack"


async def git_http(fake: FakeGitHub, request: Request, service_path: str) -> Response:
    """Serve `/{owner}/{repo}(.git)/{service_path}` (info/refs, git-upload-pack, git-receive-pack)."""
    authenticated = authenticated_user(fake, request)
    if isinstance(authenticated, Response):
        return authenticated
    user, token = authenticated
    repo = fake.get_repo(request.path_params["owner"], request.path_params["repo"])
    if repo is None or not repo.allows(token, "pull"):
        return PlainTextResponse("Repository not found.\n", 404)
    if is_push(request, service_path) and not repo.allows(token, "push"):
        # GitHub's words, which git prints as "remote: Permission to ... denied to ...", then the 403.
        return PlainTextResponse(f"Permission to {repo.full_name}.git denied to {fake.login_for(token)}.\n", 403)
    body = await request.body()
    env = {
        **git_environment(),
        "GIT_PROJECT_ROOT": str(fake.root),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": f"/{repo.owner}/{repo.name}.git/{service_path}",
        "REQUEST_METHOD": request.method,
        "QUERY_STRING": request.url.query,
        "CONTENT_TYPE": request.headers.get("content-type", ""),
        "REMOTE_USER": user,
        "REMOTE_ADDR": request.client.host if request.client else "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        # Past the role check above, a push is the token's to make.
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.receivepack",
        "GIT_CONFIG_VALUE_0": "true",
    }
    if body:
        env["CONTENT_LENGTH"] = str(len(body))
    for header in FORWARDED_HEADERS:
        if header in request.headers:
            env["HTTP_" + header.upper().replace("-", "_")] = request.headers[header]
    pushing = service_path == "git-receive-pack"
    branches_before = await asyncio.to_thread(repo.git.branches) if pushing else {}
    process = await asyncio.create_subprocess_exec(
        "git",
        "http-backend",
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate(body)
    if process.returncode != 0 and not stdout:
        return PlainTextResponse(f"git http-backend failed: {stderr.decode(errors='replace')}", 500)
    if pushing:
        await tell_webhooks(fake, request, repo.owner, repo.name, branches_before, fake.login_for(token))
    return cgi_response(stdout)


async def tell_webhooks(
    fake: FakeGitHub, request: Request, owner: str, name: str, before: dict[str, str], pusher: str
) -> None:
    """Tell the repository's webhooks which branches the push moved, as pushed by `pusher`."""
    repo = fake.get_repo(owner, name)
    if repo is None:
        return
    after = await asyncio.to_thread(repo.git.branches)
    moved = {
        branch: (before.get(branch, ZERO_SHA), after.get(branch, ZERO_SHA))
        for branch in before.keys() | after.keys()
        if before.get(branch) != after.get(branch)
    }
    if moved:
        api_url = str(request.base_url).rstrip("/")
        await asyncio.to_thread(fake.record_push, owner, name, moved, pusher, api_url=api_url)


def cgi_response(output: bytes) -> Response:
    """Turn a CGI answer (headers, blank line, body) into a response; `Status:` sets the code."""
    ends = [(index, len(mark)) for mark in (b"\r\n\r\n", b"\n\n") if (index := output.find(mark)) >= 0]
    if not ends:
        return PlainTextResponse("git http-backend sent no CGI headers", 500)
    index, length = min(ends)
    head, body = output[:index], output[index + length :]
    status = 200
    headers: dict[str, str] = {}
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.strip().split(" ", 1)[0])
        elif name:
            headers[name.strip()] = value.strip()
    headers.pop("Content-Length", None)  # recomputed for the body as sent
    return Response(body, status, headers=headers)
