"""GitHubService against the fake GitHub's REST API, mounted with respx.

Create a pull request (success, duplicate, validation error), check for an existing one (found,
not found), rate limits (primary and secondary, honouring `retry-after` and
`x-ratelimit-reset`, with a cap), and the messages GitHub's limits and refusals become.
"""

import asyncio
import re

import httpx
import pytest

from app.services.errors import (
    DuplicatePullRequest,
    GitHubAuthError,
    GitHubError,
    GitHubForbidden,
    GitHubNotFound,
    PullRequestValidationError,
    RateLimited,
)
from app.services.github import GitHubService, PullRequest, Repository
from app.services.rate_gate import RateLimitGate
from app.services.retry import format_moment
from fixtures import http
from fixtures.credentials import CANARY_GITHUB_TOKEN
from fixtures.fake_time import HeldSleeps
from fixtures.waiting import eventually_async

pytestmark = pytest.mark.unit

WRONG_TOKEN = "ghp_unitCanaryWrongToken00000000000000042"  # a canary: the fake GitHub does not know it


@pytest.fixture
async def repository(github, repo) -> Repository:
    return await github.get_repository(repo.full_name)


@pytest.fixture
def advance_fake_clock_on_sleep(sleeps, fake_github):
    """While the service waits, the fake's clock moves on by as much: its limits reset as GitHub's would."""
    sleeps.hooks.append(fake_github.advance_time)


# -- repositories ---------------------------------------------------------------------------------------------


@pytest.mark.priority_p0
async def test_get_repository_reads_owner_clone_url_and_default_branch(github, repo):
    found = await github.get_repository(repo.full_name)

    assert found == Repository(
        full_name=repo.full_name, owner=repo.owner, clone_url=repo.clone_url, default_branch="main", can_push=True
    )


@pytest.mark.priority_p1
async def test_get_repository_that_does_not_exist_raises_not_found_without_retrying(github, github_routes):
    with pytest.raises(GitHubNotFound) as raised:
        await github.get_repository("acme/nothing-here")

    assert raised.value.message == (
        "reading repository acme/nothing-here failed: not found (HTTP 404); the repository does not exist "
        "or GITHUB_TOKEN cannot see it"
    )
    assert github_routes["get_repository"].call_count == 1


# -- create_pull_request --------------------------------------------------------------------------------------


@pytest.mark.priority_p0
async def test_create_pull_request_opens_it_from_the_branch_to_the_default_branch(
    github, repository, repo, fake_github
):
    head = repo.add_branch_commit("agent/1-login")

    pull = await github.create_pull_request(repository, "agent/1-login", "Fix the login", "Closes task 1.")

    stored = fake_github.pull_requests(repo.owner, repo.name)
    assert [(p.number, p.head_ref, p.head_sha, p.base_ref, p.title, p.body) for p in stored] == [
        (pull.number, "agent/1-login", head, "main", "Fix the login", "Closes task 1.")
    ]
    assert pull == PullRequest(number=stored[0].number, url=pull.url, head="agent/1-login", head_sha=head)
    assert pull.url.endswith(f"/{repo.full_name}/pull/{pull.number}")


@pytest.mark.priority_p0
async def test_create_pull_request_twice_raises_duplicate_pull_request(github, repository, repo, fake_github):
    repo.add_branch_commit("agent/2-twice")
    await github.create_pull_request(repository, "agent/2-twice", "Once", "")

    with pytest.raises(DuplicatePullRequest) as raised:
        await github.create_pull_request(repository, "agent/2-twice", "Twice", "")

    assert raised.value.message == (
        f"creating a pull request from agent/2-twice in {repo.full_name} failed: "
        f"A pull request already exists for {repo.owner}:agent/2-twice."
    )
    assert isinstance(raised.value, GitHubError) and not raised.value.transient
    assert len(fake_github.pull_requests(repo.owner, repo.name)) == 1


@pytest.mark.priority_p0
async def test_create_pull_request_without_commits_raises_a_validation_error(github, repository, repo, github_routes):
    repo.fake.get_repo(repo.owner, repo.name).git.git("branch", "agent/3-empty", "main")

    with pytest.raises(PullRequestValidationError) as raised:
        await github.create_pull_request(repository, "agent/3-empty", "Nothing", "")

    assert raised.value.message.endswith(
        "GitHub refused it (HTTP 422: Validation Failed: No commits between main and agent/3-empty)"
    )
    assert github_routes["create_pull_request"].call_count == 1


@pytest.mark.priority_p1
async def test_create_pull_request_for_a_branch_not_on_github_raises_a_validation_error(github, repository):
    with pytest.raises(PullRequestValidationError) as raised:
        await github.create_pull_request(repository, "agent/4-never-pushed", "Lost", "")

    assert "HTTP 422: Validation Failed: PullRequest head invalid" in raised.value.message


@pytest.mark.priority_p1
async def test_create_pull_request_without_a_title_raises_a_validation_error(github, repository, repo):
    repo.add_branch_commit("agent/5-untitled")

    with pytest.raises(PullRequestValidationError) as raised:
        await github.create_pull_request(repository, "agent/5-untitled", "", "")

    assert "HTTP 422: Validation Failed: PullRequest title missing_field" in raised.value.message


@pytest.mark.priority_p2
async def test_a_422_without_details_keeps_githubs_message(github, repository, fake_github):
    fake_github.add_fault("create_pull_request", 422, body={"message": 'Invalid request.\n\n"head" wasn\'t supplied.'})

    with pytest.raises(PullRequestValidationError) as raised:
        await github.create_pull_request(repository, "agent/6", "Title", "")

    assert raised.value.message.endswith('GitHub refused it (HTTP 422: Invalid request.\n\n"head" wasn\'t supplied.)')


@pytest.mark.priority_p0
async def test_create_pull_request_refused_with_403_says_which_permission_is_missing(
    github, repository, repo, fake_github, github_routes
):
    repo.add_branch_commit("agent/7-forbidden")
    fake_github.add_fault(
        "create_pull_request",
        403,
        body={"message": "Resource not accessible by personal access token"},
        headers={"x-ratelimit-remaining": "4999", "x-ratelimit-reset": "1"},
    )

    with pytest.raises(GitHubForbidden) as raised:
        await github.create_pull_request(repository, "agent/7-forbidden", "Title", "")

    assert raised.value.message == (
        f"creating a pull request from agent/7-forbidden in {repo.full_name} failed: GitHub denied it (HTTP 403: "
        "Resource not accessible by personal access token); GITHUB_TOKEN lacks a permission for this repository "
        "(pull requests and contents need write access)"
    )
    assert github_routes["create_pull_request"].call_count == 1


# -- find_open_pull_request -----------------------------------------------------------------------------------


@pytest.mark.priority_p0
async def test_find_open_pull_request_finds_the_branchs_pull_request(github, repository, repo):
    repo.add_branch_commit("agent/8-found")
    opened = await github.create_pull_request(repository, "agent/8-found", "Found", "")

    assert await github.find_open_pull_request(repository, "agent/8-found") == opened


@pytest.mark.priority_p0
async def test_find_open_pull_request_returns_none_when_the_branch_has_none(github, repository, repo, github_routes):
    repo.add_branch_commit("agent/9-other")
    await github.create_pull_request(repository, "agent/9-other", "Another branch's", "")

    assert await github.find_open_pull_request(repository, "agent/9-none") is None
    query = github_routes["list_pull_requests"].calls.last.request.url.params
    assert (query["head"], query["state"]) == (f"{repo.owner}:agent/9-none", "open")


# -- rate limits ----------------------------------------------------------------------------------------------


@pytest.mark.priority_p0
@pytest.mark.parametrize("status", [403, 429])
async def test_primary_rate_limit_waits_until_the_reset_then_succeeds(
    github, repo, fake_github, github_routes, sleeps, advance_fake_clock_on_sleep, status
):
    reset = int(fake_github.time()) + 40
    fake_github.set_rate_limit(CANARY_GITHUB_TOKEN, remaining=0, reset=reset, status=status)

    found = await github.get_repository(repo.full_name)

    assert found.full_name == repo.full_name
    assert len(sleeps.waits) == 1 and 30 <= sleeps.waits[0] <= 40, f"not the wait until the reset: {sleeps.waits}"
    assert github_routes["get_repository"].call_count == 2


@pytest.mark.priority_p0
@pytest.mark.parametrize("status", [403, 429])
async def test_secondary_rate_limit_waits_as_long_as_retry_after_says_then_succeeds(
    github, repository, repo, fake_github, sleeps, advance_fake_clock_on_sleep, status
):
    repo.add_branch_commit("agent/10-busy")
    fake_github.trip_secondary_rate_limit(CANARY_GITHUB_TOKEN, retry_after=25, status=status)

    pull = await github.create_pull_request(repository, "agent/10-busy", "Busy", "")

    assert sleeps.waits == [25.0]
    assert [p.number for p in fake_github.pull_requests(repo.owner, repo.name)] == [pull.number]


@pytest.mark.priority_p1
@pytest.mark.parametrize(
    ("status", "message"),
    [(403, "You have exceeded a secondary rate limit."), (429, "slow down")],
    ids=["403-saying-secondary-limit", "429-without-any-rate-limit-header"],
)
async def test_secondary_rate_limit_without_retry_after_waits_a_minute(
    github, repo, fake_github, sleeps, status, message
):
    fake_github.add_fault("get_repository", status, body={"message": message}, times=1)

    await github.get_repository(repo.full_name)

    assert sleeps.waits == [60.0]


@pytest.mark.priority_p0
async def test_primary_rate_limit_resetting_later_than_the_cap_fails_at_once_saying_when(
    github, repo, fake_github, github_routes, sleeps
):
    reset = int(fake_github.time()) + 2 * 3600
    fake_github.set_rate_limit(CANARY_GITHUB_TOKEN, remaining=0, reset=reset)

    with pytest.raises(RateLimited) as raised:
        await github.get_repository(repo.full_name)

    message = raised.value.message
    assert "GitHub's API rate limit for this token is exhausted (API rate limit exceeded" in message, message
    said = re.search(r"; it resets at \d\d:\d\d:\d\d UTC, in (\d+) s ", message)
    assert said and 7100 <= int(said.group(1)) <= 7200, message
    assert message.endswith(
        "more would pass the 300 s a call may wait for GitHub's rate limits (GITHUB_RATE_LIMIT_MAX_WAIT_S); "
        "try again later)"
    ), message
    assert sleeps.waits == [] and github_routes["get_repository"].call_count == 1


@pytest.mark.priority_p1
async def test_a_limit_longer_than_any_call_waits_fails_its_call_without_shutting_the_token(
    github, repo, fake_github, github_routes, sleeps
):
    fake_github.set_rate_limit(CANARY_GITHUB_TOKEN, remaining=0, reset=int(fake_github.time()) + 2 * 3600)
    with pytest.raises(RateLimited):
        await github.get_repository(repo.full_name)
    fake_github.set_rate_limit(CANARY_GITHUB_TOKEN, remaining=100)  # lifted, or the clock was hours off

    found = await github.get_repository(repo.full_name)

    assert found.full_name == repo.full_name and sleeps.waits == []
    assert github.gate.closed_for() == 0, "the token is not shut for the two hours no call waits"


@pytest.mark.priority_p0
async def test_secondary_rate_limit_asking_for_more_than_the_cap_fails_at_once(
    github, repository, repo, fake_github, sleeps
):
    repo.add_branch_commit("agent/11-slow-down")
    fake_github.trip_secondary_rate_limit(CANARY_GITHUB_TOKEN, retry_after=3600)

    with pytest.raises(RateLimited) as raised:
        await github.create_pull_request(repository, "agent/11-slow-down", "Later", "")

    assert "GitHub's secondary rate limit (You have exceeded a secondary rate limit" in raised.value.message
    assert "it asked to wait 3600 s (waiting 3600 s more would pass the 300 s a call may wait" in raised.value.message
    assert sleeps.waits == [] and fake_github.pull_requests(repo.owner, repo.name) == []


@pytest.mark.priority_p1
async def test_a_rate_limit_that_outlasts_the_wait_a_call_may_make_gives_up_saying_so(
    github_client, retry_policy, repo, fake_github, sleeps, github_routes
):
    gate = RateLimitGate(20, clock=sleeps.clock, sleep=sleeps)
    github = GitHubService(github_client, retry=retry_policy, gate=gate)
    fake_github.trip_secondary_rate_limit(CANARY_GITHUB_TOKEN, retry_after=5)  # the fake's clock never moves

    with pytest.raises(RateLimited) as raised:
        await github.get_repository(repo.full_name)

    assert raised.value.message.endswith(
        "it asked to wait 5 s (waiting 5 s more would pass the 20 s a call may wait for GitHub's rate limits "
        "(GITHUB_RATE_LIMIT_MAX_WAIT_S); try again later)"
    ), raised.value.message
    assert sleeps.waits == [5.0] * 4, "waits are not attempts: the call waits as long as it may"
    assert github_routes["get_repository"].call_count == 5


@pytest.mark.priority_p1
async def test_a_secondary_limit_without_retry_after_that_persists_waits_twice_as_long_each_time(
    github, repo, fake_github, sleeps, github_routes
):
    fake_github.add_fault("get_repository", 403, body={"message": "You have exceeded a secondary rate limit."}, times=2)

    await github.get_repository(repo.full_name)

    assert sleeps.waits == [60.0, 120.0], "GitHub: a minute, then exponentially longer while it persists"
    assert github_routes["get_repository"].call_count == 3


@pytest.mark.priority_p0
async def test_a_pull_request_past_the_content_creation_limit_waits_for_it_then_opens_once(
    github, repository, repo, fake_github, sleeps, advance_fake_clock_on_sleep
):
    fake_github.content_creation_per_minute = 1
    repo.add_branch_commit("agent/20-first")
    repo.add_branch_commit("agent/21-second")
    await github.create_pull_request(repository, "agent/20-first", "First", "")

    second = await github.create_pull_request(repository, "agent/21-second", "Second", "")

    assert len(sleeps.waits) == 1 and 58 <= sleeps.waits[0] <= 60, f"not the fake's retry-after: {sleeps.waits}"
    assert [entry.status for entry in fake_github.requests("create_pull_request")] == [201, 403, 201]
    pulls = fake_github.pull_requests(repo.owner, repo.name)
    assert sorted(pull.head_ref for pull in pulls) == ["agent/20-first", "agent/21-second"]
    assert second.head == "agent/21-second"


@pytest.mark.priority_p0
async def test_a_rate_limit_one_call_meets_holds_every_call_with_the_token_until_it_is_over(
    github_client, retry_policy, repo, fake_github, github_routes
):
    held = HeldSleeps(hooks=[fake_github.advance_time])
    github = GitHubService(github_client, retry=retry_policy, gate=RateLimitGate(300, clock=held.clock, sleep=held))
    fake_github.trip_secondary_rate_limit(CANARY_GITHUB_TOKEN, retry_after=30)

    first = asyncio.create_task(github.get_repository(repo.full_name))
    await eventually_async(lambda: sleeping(held, 1), description="the first call waiting")
    others = [asyncio.create_task(github.get_repository(repo.full_name)) for _ in range(3)]
    await eventually_async(lambda: sleeping(held, 4), description="every call waiting")
    sent_while_limited = github_routes["get_repository"].call_count
    held.advance(30)
    await asyncio.gather(first, *others)

    assert sent_while_limited == 1, "only the first call asked GitHub; the others waited at the token's gate"
    assert [entry.status for entry in fake_github.requests("get_repository")] == [403, 200, 200, 200, 200]


def sleeping(held: HeldSleeps, expected: int) -> None:
    assert held.sleeping == expected, f"{held.sleeping} calls waiting, expected {expected}"


@pytest.mark.priority_p0
async def test_a_pull_request_opened_though_its_answer_never_came_is_found_not_opened_again(
    github, repository, repo, fake_github, github_routes
):
    repo.add_branch_commit("agent/22-lost-answer")
    route = github_routes["create_pull_request"]
    forward = route.side_effect
    lost: list[httpx.Response] = []

    async def opened_then_lost(request: httpx.Request) -> httpx.Response:
        response = await forward(request)
        if not lost:
            lost.append(response)
            raise httpx.ReadTimeout("the answer never came", request=request)
        return response

    route.side_effect = opened_then_lost

    pull = await github.create_pull_request(repository, "agent/22-lost-answer", "Lost", "")

    assert lost and lost[0].status_code == 201, "the first request did open it"
    assert [p.number for p in fake_github.pull_requests(repo.owner, repo.name)] == [pull.number]
    assert route.call_count == 1, "found by its branch instead of asked for again"
    assert github_routes["list_pull_requests"].call_count == 1


@pytest.mark.priority_p2
async def test_an_exhausted_limit_without_a_reset_time_backs_off(github, repo, fake_github, sleeps):
    fake_github.add_fault("get_repository", 403, headers={"x-ratelimit-remaining": "0"}, times=1)

    await github.get_repository(repo.full_name)

    assert len(sleeps.waits) == 1 and sleeps.waits[0] <= 0.004


# -- other failures -------------------------------------------------------------------------------------------


@pytest.mark.priority_p0
async def test_a_refused_token_is_an_auth_error_naming_the_setting_not_the_token(
    fake_github, repo, retry_policy, sleeps
):
    async with http.AsyncClient(
        base_url="https://api.github.com", headers={"Authorization": f"Bearer {WRONG_TOKEN}"}
    ) as client:
        with pytest.raises(GitHubAuthError) as raised:
            await GitHubService(client, retry=retry_policy).get_repository(repo.full_name)

    assert raised.value.message == (
        f"reading repository {repo.full_name} failed: GitHub refused the token (HTTP 401: Bad credentials); "
        "check GITHUB_TOKEN"
    )
    assert WRONG_TOKEN not in str(raised.value) and sleeps.waits == []


@pytest.mark.priority_p0
async def test_the_token_never_appears_in_an_error_even_when_github_echoes_it(github, repository, fake_github):
    fake_github.add_fault(
        "create_pull_request",
        422,
        body={"message": f"token {CANARY_GITHUB_TOKEN} said no", "errors": [{"message": f"bad {CANARY_GITHUB_TOKEN}"}]},
    )

    with pytest.raises(GitHubError) as raised:
        await github.create_pull_request(repository, "agent/12", "Title", "")

    assert CANARY_GITHUB_TOKEN not in str(raised.value)
    assert "token *** said no: bad ***" in raised.value.message


@pytest.mark.priority_p1
@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_errors_are_retried(github, repo, fake_github, github_routes, status):
    fake_github.add_fault("get_repository", status, times=2)

    await github.get_repository(repo.full_name)

    assert github_routes["get_repository"].call_count == 3


@pytest.mark.priority_p1
async def test_server_errors_that_persist_give_up_after_the_attempts(github, repo, fake_github):
    fake_github.add_fault("get_repository", 502)

    with pytest.raises(GitHubError) as raised:
        await github.get_repository(repo.full_name)

    assert raised.value.message == (
        f"reading repository {repo.full_name} failed: GitHub had a server error (HTTP 502: Server Error) "
        "(gave up after 3 attempts)"
    )


@pytest.mark.priority_p1
@pytest.mark.parametrize(
    ("failure", "said"),
    [
        (httpx.ReadTimeout("read timed out"), "GitHub did not answer in time (ReadTimeout)"),
        (httpx.ConnectError("Connection refused"), "cannot reach GitHub at https://api.github.com"),
    ],
    ids=["timeout", "unreachable"],
)
async def test_timeouts_and_connection_errors_are_retried(github, repo, github_routes, fail_first, failure, said):
    route = github_routes["get_repository"]
    fail_first(route, failure, failure)

    await github.get_repository(repo.full_name)

    assert route.call_count == 3
    route.mock(side_effect=failure)
    with pytest.raises(GitHubError, match=re.escape(said)) as raised:
        await github.get_repository(repo.full_name)
    assert raised.value.transient and raised.value.attempts == 3


@pytest.mark.priority_p1
async def test_an_unreadable_answer_to_a_read_is_retried(github, repo, fake_github, github_routes):
    fake_github.add_fault("get_repository", 200, kind="malformed", times=1)

    await github.get_repository(repo.full_name)

    assert github_routes["get_repository"].call_count == 2


@pytest.mark.priority_p1
async def test_an_unreadable_answer_to_a_pull_request_creation_is_not_repeated(
    github, repository, repo, fake_github, github_routes
):
    repo.add_branch_commit("agent/13-once")
    fake_github.add_fault("create_pull_request", 201, kind="malformed", times=1)

    with pytest.raises(GitHubError) as raised:
        await github.create_pull_request(repository, "agent/13-once", "Once", "")

    assert raised.value.message.endswith("failed: GitHub answered HTTP 201 with a body that is not JSON")
    assert not raised.value.transient and github_routes["create_pull_request"].call_count == 1


@pytest.mark.priority_p2
async def test_an_answer_missing_a_field_is_a_clear_error(github, repo, fake_github):
    fake_github.add_fault("get_repository", 200, body={"full_name": repo.full_name})

    with pytest.raises(GitHubError) as raised:
        await github.get_repository(repo.full_name)

    assert raised.value.message == (
        f"reading repository {repo.full_name} failed: GitHub's answer lacks an expected field (KeyError: 'owner')"
    )


@pytest.mark.priority_p2
@pytest.mark.parametrize(("status", "body"), [(409, {"message": "Git Repository is empty."}), (400, "Bad things")])
async def test_other_refusals_are_reported_as_github_said_them(github, repo, fake_github, github_routes, status, body):
    fake_github.add_fault("get_repository", status, body=body)

    with pytest.raises(GitHubError) as raised:
        await github.get_repository(repo.full_name)

    said = body["message"] if isinstance(body, dict) else body
    assert raised.value.message == f"reading repository {repo.full_name} failed: GitHub answered HTTP {status}: {said}"
    assert not raised.value.transient and github_routes["get_repository"].call_count == 1


# -- what a rate limit says -----------------------------------------------------------------------------------
# What a GitHub rate limit turns into: which answers count as one, how long the platform waits, and a
# message that names the call, quotes GitHub and says when the limit resets.


@pytest.mark.priority_p1
@pytest.mark.parametrize(
    ("fault", "said"),
    [
        pytest.param(
            {"status": 429, "body": {"message": "slow down"}},
            "GitHub's secondary rate limit (slow down); waiting 240 s, twice the last, as it persists (waiting 240 s "
            "more would pass the 300 s a call may wait for GitHub's rate limits (GITHUB_RATE_LIMIT_MAX_WAIT_S); try "
            "again later)",
            id="secondary-limit-names-the-wait",
        ),
        pytest.param(
            {"status": 403, "body": {"message": "API rate limit exceeded"}, "headers": {"x-ratelimit-remaining": "0"}},
            "GitHub's API rate limit for this token is exhausted (API rate limit exceeded) (gave up after 3 attempts)",
            id="exhausted-limit-without-a-reset-time-names-none",
        ),
    ],
)
async def test_a_persisting_rate_limit_names_the_call_and_what_github_said(
    github, repo, fake_github, sleeps, fault, said
):
    fake_github.add_fault("get_repository", **fault)

    with pytest.raises(RateLimited) as raised:
        await github.get_repository(repo.full_name)

    assert raised.value.message == f"reading repository {repo.full_name} failed: {said}"


@pytest.mark.priority_p1
async def test_the_reset_moment_in_the_message_is_the_one_github_named(github, repo, fake_github, sleeps):
    reset = int(fake_github.time()) + 2 * 3600
    fake_github.set_rate_limit(CANARY_GITHUB_TOKEN, remaining=0, reset=reset)

    with pytest.raises(RateLimited) as raised:
        await github.get_repository(repo.full_name)

    shown = re.search(r"it resets at (\d\d:\d\d:\d\d UTC)", raised.value.message)
    assert shown, raised.value.message
    near_reset = {format_moment(reset + offset) for offset in (-2, -1, 0, 1, 2)}
    assert shown.group(1) in near_reset, f"expected about {format_moment(reset)}, the message says {shown.group(1)}"
    assert raised.value.message.startswith(f"reading repository {repo.full_name} failed: ")


@pytest.mark.priority_p1
async def test_githubs_words_are_cut_to_300_characters(github, repo, fake_github):
    fake_github.add_fault("get_repository", 418, body={"message": "a" * 300 + "b" * 50})

    with pytest.raises(GitHubError) as raised:
        await github.get_repository(repo.full_name)

    assert raised.value.message == f"reading repository {repo.full_name} failed: GitHub answered HTTP 418: {'a' * 300}"


# -- refusals reported whole ----------------------------------------------------------------------------------
# GitHub's refusals reported whole: every item of a 422's `errors` in the message, the connection error when
# GitHub cannot be reached, and an answer to a client without a token reported rather than crashing the report.


@pytest.mark.priority_p1
async def test_a_422_lists_every_error_github_gave(github, repository, fake_github):
    errors = [{"resource": "PullRequest", "field": "head", "code": "invalid"}, {"message": "No commits between"}]
    fake_github.add_fault("create_pull_request", 422, body={"message": "Validation Failed", "errors": errors})

    with pytest.raises(PullRequestValidationError) as raised:
        await github.create_pull_request(repository, "agent/6", "Title", "")

    assert raised.value.message.endswith(
        "GitHub refused it (HTTP 422: Validation Failed: PullRequest head invalid; No commits between)"
    ), raised.value.message


@pytest.mark.priority_p1
async def test_a_duplicate_pull_request_keeps_every_error_github_gave(github, repository, fake_github):
    errors = [{"message": "A pull request already exists for acme:agent/6."}, {"message": "Head is busy"}]
    fake_github.add_fault("create_pull_request", 422, body={"message": "Validation Failed", "errors": errors})

    with pytest.raises(DuplicatePullRequest) as raised:
        await github.create_pull_request(repository, "agent/6", "Title", "")

    assert raised.value.message.endswith("failed: A pull request already exists for acme:agent/6.; Head is busy")


@pytest.mark.priority_p1
async def test_a_client_without_a_token_gets_githubs_refusal_reported(fake_github, repo, retry_policy):
    async with http.AsyncClient(base_url="https://api.github.com") as client:
        with pytest.raises(GitHubAuthError) as raised:
            await GitHubService(client, retry=retry_policy).get_repository(repo.full_name)

    assert raised.value.message.startswith(f"reading repository {repo.full_name} failed: GitHub refused the token")


@pytest.mark.priority_p1
async def test_an_unreachable_github_is_reported_with_the_connection_error(github, repo, github_routes):
    github_routes["get_repository"].mock(side_effect=httpx.ConnectError("Connection refused"))

    with pytest.raises(GitHubError) as raised:
        await github.get_repository(repo.full_name)

    assert raised.value.message.startswith(
        f"reading repository {repo.full_name} failed: cannot reach GitHub at https://api.github.com "
        "(ConnectError: Connection refused)"
    ), raised.value.message


# -- pull request calls failing -------------------------------------------------------------------------------
# Pull request calls failing: the message names the call (looking one up, or creating one), the branch
# and the repository, whether GitHub refused it or answered something unreadable.


@pytest.mark.priority_p2
async def test_a_refused_lookup_names_the_branch_and_the_repository(github, repository, fake_github):
    fake_github.add_fault("list_pull_requests", 418, body={"message": "no"})

    with pytest.raises(GitHubError) as raised:
        await github.find_open_pull_request(repository, "agent/9")

    assert raised.value.message == (
        f"looking for an open pull request from agent/9 in {repository.full_name} failed: GitHub answered HTTP 418: no"
    )


@pytest.mark.priority_p2
async def test_an_unreadable_lookup_answer_names_the_branch_and_the_repository(github, repository, fake_github):
    fake_github.add_fault("list_pull_requests", 200, body=[{"number": 1}])

    with pytest.raises(GitHubError) as raised:
        await github.find_open_pull_request(repository, "agent/9")

    assert raised.value.message.startswith(
        f"looking for an open pull request from agent/9 in {repository.full_name} failed: "
        "GitHub's answer lacks an expected field (KeyError: "
    ), raised.value.message


@pytest.mark.priority_p2
async def test_a_creation_answered_without_the_pull_requests_fields_names_the_creation(
    github, repository, repo, fake_github
):
    repo.add_branch_commit("agent/9")
    fake_github.add_fault("create_pull_request", 201, body={"number": 1})

    with pytest.raises(GitHubError) as raised:
        await github.create_pull_request(repository, "agent/9", "Title", "")

    assert raised.value.message.startswith(
        f"creating a pull request from agent/9 in {repository.full_name} failed: "
        "GitHub's answer lacks an expected field (KeyError: "
    ), raised.value.message
