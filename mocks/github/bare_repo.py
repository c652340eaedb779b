"""Real bare git repositories, driven with the `git` command (the fake GitHub's storage)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Server-side git must not read the host user's configuration (hooks, templates, default branch...).
GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_AUTHOR_NAME": "GitHub",
    "GIT_AUTHOR_EMAIL": "noreply@github.com",
    "GIT_COMMITTER_NAME": "GitHub",
    "GIT_COMMITTER_EMAIL": "noreply@github.com",
}
COMMIT_SEPARATOR = "\x1e"
FIELD_SEPARATOR = "\x1f"


class GitError(RuntimeError):
    pass


def git_environment() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.devnull, "LANG": "C.UTF-8", **GIT_ENV}


def run_git(*args: str, cwd: Path | None = None, stdin: str | None = None) -> str:
    result = subprocess.run(
        ["git", *args], cwd=cwd, input=stdin, capture_output=True, text=True, env=git_environment(), check=False
    )
    if result.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout


def is_valid_branch_name(name: str) -> bool:
    result = subprocess.run(
        ["git", "check-ref-format", "--branch", name], capture_output=True, env=git_environment(), check=False
    )
    return result.returncode == 0 and not name.startswith("-")


@dataclass(frozen=True)
class BareRepository:
    path: Path

    @classmethod
    def create(cls, path: Path, default_branch: str, readme: str) -> BareRepository:
        """`git init --bare` plus one commit holding README.md on `default_branch` (built with plumbing)."""
        if not is_valid_branch_name(default_branch):
            raise ValueError(f"invalid branch name: {default_branch!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        run_git("init", "--quiet", "--bare", f"--initial-branch={default_branch}", str(path))
        repo = cls(path)
        blob = repo.git("hash-object", "-w", "--stdin", stdin=readme).strip()
        tree = repo.git("mktree", stdin=f"100644 blob {blob}\tREADME.md\n").strip()
        commit = repo.git("commit-tree", tree, "-m", "Initial commit").strip()
        repo.git("update-ref", f"refs/heads/{default_branch}", commit)
        return repo

    def git(self, *args: str, stdin: str | None = None) -> str:
        return run_git(*args, cwd=self.path, stdin=stdin)

    def branches(self) -> dict[str, str]:
        """Branch name -> commit sha."""
        out = self.git("for-each-ref", "--format=%(refname)%00%(objectname)", "refs/heads/")
        branches = {}
        for line in out.splitlines():
            ref, sha = line.split("\0")
            branches[ref.removeprefix("refs/heads/")] = sha
        return branches

    def resolve(self, branch: str) -> str | None:
        """The sha at the tip of `branch`, or None when there is no such branch."""
        result = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}"],
            cwd=self.path,
            capture_output=True,
            text=True,
            env=git_environment(),
            check=False,
        )
        if result.returncode != 0:
            return None
        return result.stdout.strip() or None

    def log(self, branch: str, limit: int | None = None) -> list[dict[str, str]]:
        """Commits reachable from `branch`, newest first: [{"sha", "message"}]."""
        args = ["log", f"--format=%H{FIELD_SEPARATOR}%B{COMMIT_SEPARATOR}"]
        if limit:
            args.append(f"--max-count={limit}")
        out = self.git(*args, f"refs/heads/{branch}", "--")
        commits = []
        for record in out.split(COMMIT_SEPARATOR):
            if record.strip():
                sha, message = record.strip("\n").split(FIELD_SEPARATOR, 1)
                commits.append({"sha": sha, "message": message.strip()})
        return commits

    def count_commits(self, base_sha: str, head_sha: str) -> int:
        """Commits on head that base does not have (what a pull request would bring)."""
        return int(self.git("rev-list", "--count", f"{base_sha}..{head_sha}").strip())

    def diff_stats(self, base_sha: str, head_sha: str) -> tuple[int, int, int]:
        """(additions, deletions, changed files) of head against its merge base with base."""
        out = self.git("diff", "--numstat", f"{base_sha}...{head_sha}")
        additions = deletions = files = 0
        for line in out.splitlines():
            added, deleted, _ = line.split("\t", 2)
            files += 1
            additions += int(added) if added.isdigit() else 0  # "-" for binary files
            deletions += int(deleted) if deleted.isdigit() else 0
        return additions, deletions, files
