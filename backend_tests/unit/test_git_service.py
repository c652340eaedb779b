"""GitService: real git in the fake E2B's sandboxes, against the fake GitHub's repositories over HTTP.

Clone (success, auth failure, network timeout), create branch (success, branch exists, default
branch not found), commit (success, nothing to commit, invalid message), push (success, auth
failure, rejected), resuming a branch a first attempt pushed, and how git's own words become typed
errors. Cases git cannot be made to produce on demand are scripted (`scripted_git`).
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from app.services.e2b import CommandResult, SandboxHandle
from app.services.errors import (
    BranchExists,
    BranchNotFound,
    CommandTimeout,
    GitAuthFailed,
    GitError,
    GitNetworkError,
    GitTimeout,
    InvalidBranchName,
    InvalidCommitMessage,
    NothingToCommit,
    PushRejected,
    RepositoryNotFound,
    SandboxNotRunning,
)
from app.services.git import TOKEN_ENV, is_valid_branch_name
from app.services.retry import RetryPolicy
from fixtures.credentials import CANARY_GITHUB_TOKEN

pytestmark = pytest.mark.unit

WRONG_TOKEN = "ghp_unitCanaryWrongToken00000000000000042"  # a canary: the fake GitHub does not know it
SCRIPTED = SandboxHandle("scripted-sandbox", "scripted-envd-token")


def workdir(fake_e2b, sandbox: SandboxHandle) -> Path:
    """The host directory of the sandbox's /home/user/repo."""
    return fake_e2b.workspace(sandbox.sandbox_id) / "repo"


def git_starts(fake_e2b) -> list[str]:
    """The commands the sandbox was asked to run, in order."""
    return [entry.body["process"]["args"][-1] for entry in fake_e2b.requests("process_start")]


@pytest.fixture
async def cloned(git, sandbox, repo) -> SandboxHandle:
    """A sandbox holding a clone of `repo`'s main branch."""
    await git.clone(sandbox, repo.clone_url, "main")
    return sandbox


@pytest.fixture(scope="session")
def template_repo(tmp_path_factory) -> Path:
    """A repository built once: main with README.md in one commit (what a clone of a new repo holds)."""
    path = tmp_path_factory.mktemp("template") / "repo"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(path.parent),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Setup",
        "GIT_AUTHOR_EMAIL": "setup@example.invalid",
        "GIT_COMMITTER_NAME": "Setup",
        "GIT_COMMITTER_EMAIL": "setup@example.invalid",
    }
    for args in (
        ["init", "-q", "-b", "main", str(path)],
        ["add", "README.md"],
        ["commit", "-q", "-m", "Initial commit"],
    ):
        if args[0] == "add":
            (path / "README.md").write_text("# widgets\n")
        subprocess.run(["git", *args], cwd=path if args[0] != "init" else None, env=env, check=True)
    subprocess.run(["git", "update-ref", "refs/remotes/origin/main", "HEAD"], cwd=path, env=env, check=True)
    return path


@pytest.fixture
def local_repo(sandbox, fake_e2b, template_repo) -> SandboxHandle:
    """A sandbox holding a copy of `template_repo`, as after a clone but without the network (cheaper).
    Its `origin` leads nowhere: for tests of local commands only."""
    target = fake_e2b.workspace(sandbox.sandbox_id) / "repo"
    shutil.copytree(template_repo, target, symlinks=True)
    set_origin(target, "http://127.0.0.1:9/offline/nowhere.git")
    return sandbox


@pytest.fixture
def linked_repo(local_repo, repo, fake_e2b) -> SandboxHandle:
    """`local_repo` with `origin` at `repo` in the fake GitHub. Its main is not `repo`'s main: only new
    branches are pushed from it."""
    set_origin(workdir(fake_e2b, local_repo), repo.clone_url)
    return local_repo


def set_origin(path: Path, url: str) -> None:
    config = path / ".git" / "config"
    kept = config.read_text().split('[remote "origin"]')[0]
    config.write_text(f'{kept}[remote "origin"]\n\turl = {url}\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n')


async def commit_a_change(git, fake_e2b, sandbox, name: str = "change.txt", message: str = "Agent change") -> str:
    (workdir(fake_e2b, sandbox) / name).write_text(f"{name} written by the agent\n")
    return await git.commit(sandbox, message, "Ada Agent")


# -- clone ----------------------------------------------------------------------------------------------------


@pytest.mark.priority_p0
async def test_clone_checks_out_the_branch_into_the_repo_directory(git, sandbox, repo, fake_e2b, sh, output):
    await git.clone(sandbox, repo.clone_url, "main", output)

    assert (workdir(fake_e2b, sandbox) / "README.md").read_text() == "# widgets\n"
    assert await sh(sandbox, "git branch --show-current") == "main"
    assert "Cloning into 'repo'" in output.text


@pytest.mark.priority_p1
async def test_clone_replaces_what_a_failed_attempt_left_in_the_repo_directory(git, sandbox, repo, fake_e2b):
    leftover = fake_e2b.workspace(sandbox.sandbox_id) / "repo"
    leftover.mkdir()
    (leftover / "half-written.pack").write_text("partial")

    await git.clone(sandbox, repo.clone_url, "main")

    assert sorted(path.name for path in leftover.iterdir()) == [".git", "README.md"]


@pytest.mark.priority_p0
async def test_clone_with_a_refused_token_raises_auth_failed_naming_the_setting_not_the_token(
    make_git, sandbox, repo, e2b_routes, output, sleeps
):
    with pytest.raises(GitAuthFailed) as raised:
        await make_git(WRONG_TOKEN).clone(sandbox, repo.clone_url, "main", output)

    message = raised.value.message
    assert message.startswith("git clone failed: GitHub refused the token; check that GITHUB_TOKEN is valid")
    assert "Authentication failed" in message, message
    assert WRONG_TOKEN not in message and WRONG_TOKEN not in output.text
    assert e2b_routes["process_start"].call_count == 1 and sleeps.waits == [], "an auth failure was retried"


@pytest.mark.priority_p1
async def test_clone_of_a_missing_repository_raises_repository_not_found(git, sandbox, repo, e2b_routes):
    missing = repo.clone_url.replace("/widgets.git", "/gadgets.git")

    with pytest.raises(RepositoryNotFound) as raised:
        await git.clone(sandbox, missing, "main")

    assert "the repository does not exist, or GITHUB_TOKEN cannot see it" in raised.value.message
    assert e2b_routes["process_start"].call_count == 1


@pytest.mark.priority_p0
async def test_clone_of_a_default_branch_that_does_not_exist_raises_branch_not_found(git, sandbox, repo):
    with pytest.raises(BranchNotFound) as raised:
        await git.clone(sandbox, repo.clone_url, "master")

    assert raised.value.message.startswith(
        "git clone failed: the branch 'master' does not exist in the repository on GitHub"
    )
    assert "Remote branch master not found" in raised.value.message


@pytest.mark.priority_p0
async def test_clone_network_timeout_is_retried_then_raises_git_timeout(make_git, sandbox, repo, e2b_routes, sleeps):
    fake_e2b_starts_before = e2b_routes["process_start"].call_count
    repo.fake.add_fault("git_info_refs", kind="latency", latency_ms=3000)  # GitHub stalls
    git = make_git(timeout_s=0.1, retry=RetryPolicy(attempts=2, base_delay_s=0.001, sleep=sleeps))

    with pytest.raises(GitTimeout) as raised:
        await git.clone(sandbox, repo.clone_url, "main")

    assert raised.value.message == (
        "git clone timed out after 0.1 s: GitHub did not answer in time (gave up after 2 attempts)"
    )
    assert isinstance(raised.value, GitNetworkError) and raised.value.transient
    assert e2b_routes["process_start"].call_count - fake_e2b_starts_before == 2


@pytest.mark.priority_p0
async def test_clone_after_a_network_timeout_succeeds_on_the_retry(scripted_git):
    git, runner = scripted_git(CommandTimeout("the command timed out after 5 s and was stopped"), CommandResult(0))

    await git.clone(SCRIPTED, "https://github.com/acme/widgets.git", "main")

    assert len(runner.calls) == 2
    assert all(
        call["command"].startswith("rm -rf repo && git ") and call["cwd"] == "/home/user" for call in runner.calls
    )


@pytest.mark.priority_p0
@pytest.mark.parametrize(
    "fault",
    [{"kind": "reset"}, {"status": 503}, {"status": 429}],
    ids=["connection-dropped", "server-error", "too-many-requests"],
)
async def test_clone_network_failure_is_retried_and_succeeds(git, sandbox, repo, fake_e2b, e2b_routes, fault, sleeps):
    repo.fake.add_fault("git_info_refs", times=1, **fault)

    await git.clone(sandbox, repo.clone_url, "main")

    assert (workdir(fake_e2b, sandbox) / "README.md").exists()
    assert e2b_routes["process_start"].call_count == 2 and len(sleeps.waits) == 1


@pytest.mark.priority_p1
async def test_clone_network_failure_that_persists_raises_git_network_error(git, sandbox, repo, e2b_routes):
    repo.fake.add_fault("git_info_refs", 502)

    with pytest.raises(GitNetworkError) as raised:
        await git.clone(sandbox, repo.clone_url, "main")

    assert "network failure talking to GitHub" in raised.value.message
    assert "The requested URL returned error: 502" in raised.value.message
    assert raised.value.attempts == 3 and e2b_routes["process_start"].call_count == 3


# -- create_branch --------------------------------------------------------------------------------------------


@pytest.mark.priority_p0
async def test_create_branch_switches_to_the_new_branch(git, local_repo, sh, output):
    await git.create_branch(local_repo, "agent/1-fix-login", output)

    assert await sh(local_repo, "git branch --show-current") == "agent/1-fix-login"
    assert "Switched to a new branch 'agent/1-fix-login'" in output.text


@pytest.mark.priority_p0
async def test_create_branch_that_exists_raises_branch_exists(git, local_repo):
    await git.create_branch(local_repo, "agent/1-fix-login")

    with pytest.raises(BranchExists) as raised:
        await git.create_branch(local_repo, "agent/1-fix-login")

    assert raised.value.message.startswith(
        "git checkout -b failed: the branch 'agent/1-fix-login' already exists in the sandbox"
    )


@pytest.mark.priority_p0
async def test_create_branch_from_a_default_branch_that_does_not_exist_raises_branch_not_found(git, local_repo):
    with pytest.raises(BranchNotFound) as raised:
        await git.create_branch(local_repo, "agent/2-docs", base="master")

    assert raised.value.message.startswith(
        "git checkout -b failed: the branch 'master' does not exist in the repository on GitHub"
    )


@pytest.mark.priority_p1
async def test_create_branch_from_origins_default_branch(git, cloned, sh):
    await git.create_branch(cloned, "agent/3-tests", base="main")

    assert await sh(cloned, "git rev-parse HEAD") == await sh(cloned, "git rev-parse origin/main")
    assert await sh(cloned, "git branch --show-current") == "agent/3-tests"


@pytest.mark.priority_p1
@pytest.mark.parametrize(
    "name",
    [
        "",
        "a..b",
        "-flag",
        "trailing/",
        "/leading",
        "x.lock",
        "a b",
        "a~1",
        "a^",
        "a:b",
        "a?",
        "a*",
        "a[b",
        "a\\b",
        "@",
        "a//b",
        "a@{1}",
        ".hidden",
        "dir/.hidden",
        "dir/x.lock/y",
        "dot.",
        "tab\tname",
    ],
)
async def test_create_branch_with_an_invalid_name_raises_before_running_git(git, e2b_routes, sandbox, name):
    with pytest.raises(InvalidBranchName) as raised:
        await git.create_branch(sandbox, name)

    assert raised.value.message == f"{name!r} is not a valid branch name (see git check-ref-format)"
    assert e2b_routes["process_start"].call_count == 0


@pytest.mark.priority_p2
@pytest.mark.parametrize("name", ["agent/0a1b2c3d-fix-the-login-page", "feature_x", "v1.2", "a-b/c_d.e"])
def test_branch_names_git_accepts_are_valid(name):
    assert is_valid_branch_name(name)


# -- commit ---------------------------------------------------------------------------------------------------


@pytest.mark.priority_p0
async def test_commit_records_every_change_as_the_agent_and_returns_the_sha(git, local_repo, fake_e2b, sh, output):
    (workdir(fake_e2b, local_repo) / "notes.md").write_text("done\n")
    (workdir(fake_e2b, local_repo) / "README.md").unlink()

    sha = await git.commit(local_repo, "Fix the login page\n\nTask 42", "Ada Agent", output)

    assert await sh(local_repo, "git log -1 --format='%H|%an|%ae|%s'") == (
        f"{sha}|Ada Agent|agents@agent-squad.invalid|Fix the login page"
    )
    assert await sh(local_repo, "git show --name-status --format= HEAD") == "D\tREADME.md\nA\tnotes.md"
    assert await sh(local_repo, "git status --porcelain") == ""
    assert "Fix the login page" in output.text


@pytest.mark.priority_p0
async def test_commit_with_nothing_changed_raises_nothing_to_commit(git, local_repo):
    with pytest.raises(NothingToCommit) as raised:
        await git.commit(local_repo, "No change", "Ada Agent")

    assert raised.value.message == "git commit failed: nothing to commit, the agent changed no file"
    assert isinstance(raised.value, GitError) and not raised.value.transient


@pytest.mark.priority_p0
@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("", "the commit message is empty"),
        ("  \n\t ", "the commit message is empty"),
        ("fix\x00it", "the commit message contains a NUL character"),
    ],
    ids=["empty", "blank", "nul"],
)
async def test_commit_with_an_invalid_message_raises_before_running_git(git, e2b_routes, sandbox, message, reason):
    with pytest.raises(InvalidCommitMessage) as raised:
        await git.commit(sandbox, message, "Ada Agent")

    assert raised.value.message.startswith(reason)
    assert e2b_routes["process_start"].call_count == 0


@pytest.mark.priority_p2
@pytest.mark.parametrize("author", ["", "   ", "a\x00b"])
async def test_commit_without_an_author_name_raises_before_running_git(git, e2b_routes, sandbox, author):
    with pytest.raises(GitError) as raised:
        await git.commit(sandbox, "Message", author)

    assert raised.value.message == "the commit author's name is empty; git needs a name to commit"

    assert e2b_routes["process_start"].call_count == 0


@pytest.mark.priority_p1
async def test_commit_message_and_author_reach_git_verbatim_whatever_the_shell_characters(
    git, local_repo, fake_e2b, sh
):
    message = "fix: `touch pwned` $(touch pwned) 'single' \"double\" ; rm -rf / && echo $HOME"
    author = "O'Brien $(whoami)"
    (workdir(fake_e2b, local_repo) / "a.txt").write_text("a\n")

    await git.commit(local_repo, message, author)

    assert await sh(local_repo, "git log -1 --format=%B") == message
    assert await sh(local_repo, "git log -1 --format=%an") == author
    assert not (workdir(fake_e2b, local_repo) / "pwned").exists()


# -- push -----------------------------------------------------------------------------------------------------


@pytest.mark.priority_p0
async def test_push_puts_the_commit_on_githubs_branch(git, cloned, fake_e2b, repo, output):
    await git.create_branch(cloned, "agent/7-push")
    sha = await commit_a_change(git, fake_e2b, cloned)

    await git.push(cloned, "agent/7-push", output)

    assert repo.fake.branch_log(repo.owner, repo.name, "agent/7-push")[0]["sha"] == sha
    assert "[new branch]" in output.text


@pytest.mark.priority_p0
async def test_push_with_a_refused_token_raises_auth_failed_without_the_token(
    git, make_git, linked_repo, fake_e2b, repo, output
):
    await git.create_branch(linked_repo, "agent/8-auth")
    await commit_a_change(git, fake_e2b, linked_repo)

    with pytest.raises(GitAuthFailed) as raised:
        await make_git(WRONG_TOKEN).push(linked_repo, "agent/8-auth", output)

    assert "check that GITHUB_TOKEN is valid" in raised.value.message
    assert WRONG_TOKEN not in raised.value.message and WRONG_TOKEN not in output.text
    assert "agent/8-auth" not in repo.fake.branches(repo.owner, repo.name)


@pytest.mark.priority_p0
async def test_push_rejected_when_github_has_commits_the_sandbox_lacks(git, linked_repo, fake_e2b, repo):
    theirs = repo.add_branch_commit("agent/9-race", "Someone else's work")  # pushed by another worker first
    await git.create_branch(linked_repo, "agent/9-race")
    await commit_a_change(git, fake_e2b, linked_repo)

    with pytest.raises(PushRejected) as raised:
        await git.push(linked_repo, "agent/9-race")

    assert raised.value.message.startswith("git push failed: ")
    assert "the branch 'agent/9-race' on GitHub has commits the sandbox does not have" in raised.value.message
    assert "fetch and rebase, or push to a new branch" in raised.value.message
    assert "[rejected]" in raised.value.message and not raised.value.transient
    assert repo.fake.branch_log(repo.owner, repo.name, "agent/9-race")[0]["sha"] == theirs


@pytest.mark.priority_p1
async def test_push_network_failure_is_retried_and_succeeds(git, linked_repo, fake_e2b, e2b_routes, repo):
    await git.create_branch(linked_repo, "agent/10-flaky")
    sha = await commit_a_change(git, fake_e2b, linked_repo)
    starts = e2b_routes["process_start"].call_count
    repo.fake.add_fault("git_info_refs", kind="reset", times=1, match={"query": "service=git-receive-pack"})

    await git.push(linked_repo, "agent/10-flaky")

    assert e2b_routes["process_start"].call_count - starts == 2
    assert repo.fake.branch_log(repo.owner, repo.name, "agent/10-flaky")[0]["sha"] == sha


@pytest.mark.priority_p1
async def test_push_of_a_branch_already_on_github_is_a_no_op(git, linked_repo, fake_e2b, repo):
    await git.create_branch(linked_repo, "agent/11-again")
    sha = await commit_a_change(git, fake_e2b, linked_repo)
    await git.push(linked_repo, "agent/11-again")

    await git.push(linked_repo, "agent/11-again")

    assert repo.fake.branch_log(repo.owner, repo.name, "agent/11-again")[0]["sha"] == sha


# -- cloned_branch_exists / checkout_remote_branch -----------------------------------------------------------


@pytest.mark.priority_p0
async def test_cloned_branch_exists_knows_the_branches_github_had_at_the_clone(git, sandbox, repo, fake_e2b):
    repo.add_branch_commit("agent/12-pushed")
    await git.clone(sandbox, repo.clone_url, "main")
    asked_before = len(fake_e2b.requests("process_start"))

    assert await git.cloned_branch_exists(sandbox, "agent/12-pushed") is True
    assert await git.cloned_branch_exists(sandbox, "agent/12-never-pushed") is False
    assert git_starts(fake_e2b)[asked_before:] == [
        "git rev-parse --verify --quiet refs/remotes/origin/agent/12-pushed",
        "git rev-parse --verify --quiet refs/remotes/origin/agent/12-never-pushed",
    ], "the answer comes from the clone, without asking GitHub again"


@pytest.mark.priority_p0
async def test_checkout_remote_branch_continues_from_githubs_commit(git, linked_repo, repo, sh, output):
    pushed = repo.add_branch_commit("agent/13-resume", "First attempt's work")

    await git.checkout_remote_branch(linked_repo, "agent/13-resume", output)

    assert await sh(linked_repo, "git branch --show-current") == "agent/13-resume"
    assert await sh(linked_repo, "git rev-parse HEAD") == pushed


@pytest.mark.priority_p2
async def test_checkout_remote_branch_replaces_a_local_branch_of_that_name(git, linked_repo, fake_e2b, repo, sh):
    await git.create_branch(linked_repo, "agent/14-resume")
    await commit_a_change(git, fake_e2b, linked_repo)
    pushed = repo.add_branch_commit("agent/14-resume")

    await git.checkout_remote_branch(linked_repo, "agent/14-resume")

    assert await sh(linked_repo, "git rev-parse HEAD") == pushed


@pytest.mark.priority_p1
async def test_checkout_remote_branch_that_does_not_exist_raises_branch_not_found(git, linked_repo):
    with pytest.raises(BranchNotFound) as raised:
        await git.checkout_remote_branch(linked_repo, "agent/15-missing")

    assert raised.value.message.startswith("git fetch failed: the branch 'agent/15-missing' does not exist")
    assert "couldn't find remote ref" in raised.value.message


@pytest.mark.priority_p2
@pytest.mark.parametrize("operation", ["clone", "push", "cloned_branch_exists", "checkout_remote_branch"])
async def test_branch_operations_refuse_an_invalid_branch_name_before_running_git(git, sandbox, e2b_routes, operation):
    arguments = ("https://github.com/a/b.git", "bad..name") if operation == "clone" else ("bad..name",)

    with pytest.raises(InvalidBranchName):
        await getattr(git, operation)(sandbox, *arguments)

    assert e2b_routes["process_start"].call_count == 0


@pytest.mark.priority_p2
async def test_create_branch_refuses_an_invalid_base_before_running_git(git, sandbox, e2b_routes):
    with pytest.raises(InvalidBranchName):
        await git.create_branch(sandbox, "agent/16", base="ma..in")

    assert e2b_routes["process_start"].call_count == 0


# -- the token ------------------------------------------------------------------------------------------------


@pytest.mark.priority_p0
async def test_the_token_is_never_on_a_command_line_only_in_the_environment_of_network_commands_and_git_never_prompts(
    git, cloned, fake_e2b, repo
):
    await git.create_branch(cloned, "agent/17-token")
    await commit_a_change(git, fake_e2b, cloned)
    await git.push(cloned, "agent/17-token")
    await git.cloned_branch_exists(cloned, "agent/17-token")

    starts = fake_e2b.requests("process_start")
    assert starts, "no command was run"
    for entry in starts:
        process = entry.body["process"]
        assert CANARY_GITHUB_TOKEN not in " ".join(process["args"]), process["args"]
        networked = any(word in process["args"][-1] for word in (" clone ", " push ", " fetch "))
        assert (process["envs"].get(TOKEN_ENV) == CANARY_GITHUB_TOKEN) is networked, process
        # No git command may wait for a password nobody will type.
        assert process["envs"].get("GIT_TERMINAL_PROMPT") == "0", process


@pytest.mark.priority_p0
async def test_output_and_errors_are_cleaned_of_the_token_even_when_git_prints_it(scripted_git, output):
    leak = f"fatal: unable to access 'https://x-access-token:{CANARY_GITHUB_TOKEN}@github.com/a/b.git/': Bad request\n"
    git, _ = scripted_git(CommandResult(128, stderr=leak))

    with pytest.raises(GitError) as raised:
        await git.create_branch(SCRIPTED, "agent/18", output)

    assert CANARY_GITHUB_TOKEN not in raised.value.message and "x-access-token:***@github.com" in raised.value.message
    assert CANARY_GITHUB_TOKEN not in output.text and "x-access-token:***@github.com" in output.text


# -- git's other words, scripted ------------------------------------------------------------------------------


@pytest.mark.priority_p1
@pytest.mark.parametrize(
    ("git_said", "expected", "reason"),
    [
        (
            "fatal: unable to access 'https://github.com/a/b.git/': The requested URL returned error: 403",
            GitAuthFailed,
            "GitHub denied access (HTTP 403); give GITHUB_TOKEN write access",
        ),
        ("remote: Permission to a/b.git denied to squad-bot.", GitAuthFailed, "GitHub denied access (HTTP 403)"),
        (
            "fatal: could not read Username for 'https://github.com': terminal prompts disabled",
            GitAuthFailed,
            "GitHub refused the token",
        ),
        (
            " ! [remote rejected] agent/x -> agent/x (protected branch hook declined)",
            PushRejected,
            "GitHub refused to update the branch 'agent/x' (a protected branch or a hook)",
        ),
        ("Aborting commit due to empty commit message.", InvalidCommitMessage, "git refused the commit message"),
        ("fatal: 'agent/x' is not a valid branch name", InvalidBranchName, "'agent/x' is not a valid branch name"),
        (
            "fatal: unable to access 'https://github.com/a/b.git/': Could not resolve host: github.com",
            GitNetworkError,
            "network failure talking to GitHub",
        ),
        ("error: something nobody expected", GitError, "with exit code 128"),
    ],
    ids=[
        "http-403",
        "permission-denied",
        "no-credentials",
        "remote-rejected",
        "empty-message",
        "bad-name",
        "dns",
        "unknown",
    ],
)
async def test_git_failures_become_typed_errors_with_a_reason(scripted_git, git_said, expected, reason):
    git, _ = scripted_git(CommandResult(128, stderr=git_said + "\nhint: a hint nobody needs\n"))

    with pytest.raises(GitError) as raised:
        await git.push(SCRIPTED, "agent/x")

    assert type(raised.value) is expected
    assert reason in raised.value.message, raised.value.message
    assert "hint:" not in raised.value.message


@pytest.mark.priority_p1
async def test_commit_stages_everything_commits_as_the_author_and_reads_back_the_sha(scripted_git):
    sha = "0123456789abcdef0123456789abcdef01234567"
    git, runner = scripted_git(
        CommandResult(0, stdout="[agent/21 0123456] Message\n"), CommandResult(0, stdout=sha + "\n")
    )

    assert await git.commit(SCRIPTED, "Message", "Ada Agent") == sha

    commands = [call["command"] for call in runner.calls]
    assert commands[0].startswith("git add -A && git -c user.name='Ada Agent' -c user.email=agents@agent-squad.invalid")
    assert commands[0].endswith("commit -m Message") and commands[1] == "git rev-parse HEAD"
    assert all(TOKEN_ENV not in call["envs"] for call in runner.calls), "a local command got the token"


@pytest.mark.priority_p1
@pytest.mark.parametrize(("exit_code", "exists"), [(0, True), (1, False)])
async def test_cloned_branch_exists_reads_rev_parses_exit_code_without_the_token(scripted_git, exit_code, exists):
    git, runner = scripted_git(CommandResult(exit_code))

    assert await git.cloned_branch_exists(SCRIPTED, "agent/22") is exists

    assert runner.calls[0]["command"] == "git rev-parse --verify --quiet refs/remotes/origin/agent/22"
    assert TOKEN_ENV not in runner.calls[0]["envs"]


@pytest.mark.priority_p2
async def test_cloned_branch_exists_outside_a_clone_is_an_error_not_a_missing_branch(scripted_git):
    git, _ = scripted_git(
        CommandResult(128, stderr="fatal: not a git repository (or any of the parent directories): .git\n")
    )

    with pytest.raises(GitError) as raised:
        await git.cloned_branch_exists(SCRIPTED, "agent/22")

    assert raised.value.message.startswith("git rev-parse failed")


@pytest.mark.priority_p1
async def test_checkout_remote_branch_fetches_then_resets_the_local_branch_to_origins(scripted_git):
    git, runner = scripted_git(CommandResult(0))

    await git.checkout_remote_branch(SCRIPTED, "agent/23")

    fetch, checkout = (call["command"] for call in runner.calls)
    assert fetch.endswith("fetch origin +refs/heads/agent/23:refs/remotes/origin/agent/23")
    assert checkout == "git checkout -B agent/23 refs/remotes/origin/agent/23"


@pytest.mark.priority_p2
async def test_a_failure_without_output_says_so(scripted_git):
    git, _ = scripted_git(CommandResult(1))

    with pytest.raises(GitError) as raised:
        await git.create_branch(SCRIPTED, "agent/19")

    assert raised.value.message == "git checkout -b failed with exit code 1. git said: (no output)"


@pytest.mark.priority_p2
async def test_a_local_command_that_times_out_is_not_blamed_on_github(scripted_git):
    git, runner = scripted_git(CommandTimeout("the command timed out after 5 s and was stopped"))

    with pytest.raises(GitTimeout) as raised:
        await git.create_branch(SCRIPTED, "agent/20")

    assert raised.value.message == "git checkout -b timed out after 5 s"
    assert len(runner.calls) == 1, "a local command was retried"


@pytest.mark.priority_p2
async def test_a_sandbox_failure_is_raised_as_the_sandbox_error_it_is(scripted_git):
    gone = SandboxNotRunning("running a command in sandbox s failed: the sandbox is not running")
    git, runner = scripted_git(gone)

    with pytest.raises(SandboxNotRunning) as raised:
        await git.clone(SCRIPTED, "https://github.com/a/b.git", "main")

    assert raised.value is gone and len(runner.calls) == 1


# -- how git's words are read ---------------------------------------------------------------------------------
# How git's own words are read: each way git says a thing failed (any one of them is enough) becomes the
# typed error for it, and a phrase that only looks alike does not. Scripted: the exact wording is the point.


@pytest.mark.priority_p1
@pytest.mark.parametrize(
    ("git_said", "expected"),
    [
        ("ERROR: Repository not found.", RepositoryNotFound),
        ("fatal: repository 'https://github.com/acme/gone.git/' not found", RepositoryNotFound),
        ('no changes added to commit (use "git add" and/or "git commit -a")', NothingToCommit),
        ("! [remote rejected] agent/7 -> agent/7 (denied by the pre-receive hook)", PushRejected),
        ("fatal: the object 3f2a was not found on the server", GitError),
        ("warning: the remote branch agent/7 has moved", GitError),
    ],
    ids=[
        "ssh-repository-not-found",
        "https-repository-not-found",
        "no-changes-added",
        "denied-by-a-hook-is-not-a-token-problem",
        "not-found-alone-is-no-missing-branch",
        "remote-branch-alone-is-no-missing-branch",
    ],
)
async def test_each_way_git_says_it_is_read_as_that_failure(scripted_git, git_said, expected):
    git, _ = scripted_git(CommandResult(1, stderr=git_said + "\n"))

    with pytest.raises(GitError) as raised:
        await git.push(SCRIPTED, "agent/7")

    assert type(raised.value) is expected, f"{git_said!r}: expected {expected.__name__}, got {raised.value!r}"


@pytest.mark.priority_p1
async def test_git_said_is_its_lines_joined_without_hints(scripted_git):
    git, _ = scripted_git(CommandResult(1, stderr="error: first thing\nhint: try this\nfatal: second thing\n"))

    with pytest.raises(GitError) as raised:
        await git.push(SCRIPTED, "agent/7")

    assert raised.value.message.endswith("git said: error: first thing | fatal: second thing"), raised.value.message


@pytest.mark.priority_p1
async def test_git_said_keeps_the_last_400_characters(scripted_git):
    git, _ = scripted_git(CommandResult(1, stderr="s" + "e" * 400 + "\n"))

    with pytest.raises(GitError) as raised:
        await git.push(SCRIPTED, "agent/7")

    assert raised.value.message.endswith("git said: " + "e" * 400), raised.value.message[-420:]


# -- resuming a pushed branch ---------------------------------------------------------------------------------
# GitService.checkout_remote_branch (resuming a branch a first attempt pushed): both git commands it runs,
# the fetch and the checkout, show their output live, and a failing checkout is reported as the checkout,
# naming the branch. Scripted: a checkout that fails after its fetch succeeded cannot be made on demand.

FETCHED = CommandResult(0, stderr="From https://github.com/acme/widgets\n * [new branch] agent/7 -> origin/agent/7\n")
SWITCHED = CommandResult(0, stderr="Switched to a new branch 'agent/7'\n")


@pytest.mark.priority_p1
async def test_the_output_of_the_fetch_and_of_the_checkout_reaches_on_output(scripted_git, output):
    git, _ = scripted_git(FETCHED, SWITCHED)

    await git.checkout_remote_branch(SCRIPTED, "agent/7", output)

    assert output.text == FETCHED.stderr + SWITCHED.stderr, output.text


@pytest.mark.priority_p1
async def test_a_checkout_that_fails_after_the_fetch_names_the_checkout_and_the_branch(scripted_git):
    refused = CommandResult(
        128, stderr="fatal: 'refs/remotes/origin/agent/7' is not a commit and a branch 'agent/7' cannot be created\n"
    )
    git, _ = scripted_git(FETCHED, refused)

    with pytest.raises(BranchNotFound) as raised:
        await git.checkout_remote_branch(SCRIPTED, "agent/7")

    assert raised.value.message.startswith(
        "git checkout failed: the branch 'agent/7' does not exist in the repository on GitHub"
    ), raised.value.message


@pytest.mark.priority_p1
async def test_a_checkout_that_fails_for_another_reason_says_git_checkout_failed(scripted_git):
    locked = CommandResult(128, stderr="fatal: Unable to create '/home/user/repo/.git/index.lock': File exists.\n")
    git, _ = scripted_git(FETCHED, locked)

    with pytest.raises(GitError) as raised:
        await git.checkout_remote_branch(SCRIPTED, "agent/7")

    assert raised.value.message.startswith("git checkout failed with exit code 128. git said: fatal: Unable to")
