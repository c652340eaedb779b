"""Real bare git repositories, driven with the `git` command (the fake GitHub's storage)."""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
import tempfile
import time
import zlib
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


def run_git(*args: str, cwd: Path | None = None, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={**git_environment(), **(env or {})},
        check=False,
    )
    if result.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout


@functools.lru_cache(maxsize=1024)  # asked again for the same few names on every request
def is_valid_branch_name(name: str) -> bool:
    if "\0" in name:  # no git name holds one, and no command line can carry it
        return False
    result = subprocess.run(
        ["git", "check-ref-format", "--branch", name], capture_output=True, env=git_environment(), check=False
    )
    return result.returncode == 0 and not name.startswith("-")


@dataclass(frozen=True)
class BareRepository:
    path: Path

    @classmethod
    def create(cls, path: Path, default_branch: str, readme: str) -> BareRepository:
        """A bare repository, as `git init --bare --template=` makes it, with one commit holding README.md
        on `default_branch`.

        Written directly in git's on-disk format (three loose objects, a ref, HEAD and config): a
        repository is made for every test squad, and starting `git` for it cost ~13 ms each time.
        Everything after creation is done by real git, which reads these files like any others.
        """
        if not is_valid_branch_name(default_branch):
            raise ValueError(f"invalid branch name: {default_branch!r}")
        for directory in ("objects/info", "objects/pack", "refs/heads", "refs/tags"):
            (path / directory).mkdir(parents=True, exist_ok=True)
        (path / "config").write_text("[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n")
        (path / "HEAD").write_text(f"ref: refs/heads/{default_branch}\n")
        repo = cls(path)
        blob = repo._write_object("blob", readme.encode())
        tree = repo._write_object("tree", b"100644 README.md\0" + bytes.fromhex(blob))
        identity = f"{GIT_ENV['GIT_COMMITTER_NAME']} <{GIT_ENV['GIT_COMMITTER_EMAIL']}> {int(time.time())} +0000"
        commit = f"tree {tree}\nauthor {identity}\ncommitter {identity}\n\nInitial commit\n"
        sha = repo._write_object("commit", commit.encode())
        ref = path / "refs" / "heads" / default_branch
        ref.parent.mkdir(parents=True, exist_ok=True)  # a branch name may hold slashes
        ref.write_text(sha + "\n")
        return repo

    def _write_object(self, kind: str, content: bytes) -> str:
        """Store a loose object (zlib of "<kind> <size>\\0<content>", named by its SHA-1); returns the sha."""
        raw = f"{kind} {len(content)}\0".encode() + content
        sha = hashlib.sha1(raw, usedforsecurity=False).hexdigest()
        stored = self.path / "objects" / sha[:2] / sha[2:]
        stored.parent.mkdir(exist_ok=True)
        stored.write_bytes(zlib.compress(raw))
        return sha

    def git(self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
        return run_git(*args, cwd=self.path, stdin=stdin, env=env)

    def commit_files(self, branch: str, files: dict[str, str], message: str, *, start: str) -> str:
        """Commit `files` (path -> text) on `branch`, which starts at `start` when it does not exist yet.

        Built with plumbing in a private index, so no work tree is needed; returns the new commit's sha.
        """
        if not is_valid_branch_name(branch):
            raise ValueError(f"invalid branch name: {branch!r}")
        parent = self.resolve(branch) or self.resolve(start)
        if parent is None:
            raise KeyError(f"no branch {start!r} to start {branch!r} from")
        with tempfile.TemporaryDirectory(prefix="fake-github-index-") as scratch:
            env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
            self.git("read-tree", parent, env=env)
            for path, text in files.items():
                blob = self.git("hash-object", "-w", "--stdin", stdin=text).strip()
                self.git("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
            tree = self.git("write-tree", env=env).strip()
        commit = self.git("commit-tree", tree, "-p", parent, "-m", message).strip()
        self.git("update-ref", f"refs/heads/{branch}", commit)
        return commit

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
        if "\0" in branch:  # no ref name holds one (and no command line can carry it)
            return None
        loose = self._loose_branch(branch)
        if loose is not None:
            return loose
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

    def _loose_branch(self, branch: str) -> str | None:
        """The sha a valid branch's loose ref file holds, read as git reads it; None when git must be asked
        (no such file: a packed, symbolic or missing ref). Every pull request read resolves its two
        branches, and a `git rev-parse` each time was the fake's most frequent process."""
        if not is_valid_branch_name(branch):  # so the name cannot lead out of refs/heads
            return None
        try:
            content = (self.path / "refs" / "heads" / branch).read_bytes()
        except OSError:
            return None
        sha = content.strip().decode("ascii", "replace")
        if len(sha) != 40 or content != sha.encode() + b"\n" or not all(c in "0123456789abcdef" for c in sha):
            return None
        return sha

    def resolve_ref(self, ref: str) -> tuple[str, str] | None:
        """(object sha, object type) of a full ref such as "refs/heads/main", or None when there is none."""
        if "\0" in ref:
            return None
        result = subprocess.run(
            ["git", "for-each-ref", "--format=%(refname)%00%(objectname)%00%(objecttype)", ref],
            cwd=self.path,
            capture_output=True,
            text=True,
            env=git_environment(),
            check=False,
        )
        for line in result.stdout.splitlines():
            name, sha, kind = line.split("\0")
            if name == ref:  # for-each-ref also lists refs *under* a prefix (refs/heads/a/b for refs/heads/a)
                return sha, kind
        return None

    def commit_info(self, sha: str) -> dict[str, str]:
        """The fields GitHub shows of a commit: tree, parents, author and committer (name, email, date), message."""
        fields = ["%T", "%P", "%an", "%ae", "%aI", "%cn", "%ce", "%cI", "%B"]
        out = self.git("show", "-s", f"--format={FIELD_SEPARATOR.join(fields)}", sha, "--")
        tree, parents, an, ae, ad, cn, ce, cd, message = out.split(FIELD_SEPARATOR, 8)
        return {
            "tree": tree,
            "parents": parents,
            "author_name": an,
            "author_email": ae,
            "author_date": ad,
            "committer_name": cn,
            "committer_email": ce,
            "committer_date": cd,
            "message": message.strip(),
        }

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

    # -- what reviews, merges and pushes need -----------------------------------------------------------
    def has_commit(self, sha: str) -> bool:
        if not sha or "\0" in sha or sha.startswith("-"):
            return False
        result = subprocess.run(
            ["git", "cat-file", "-e", f"{sha}^{{commit}}"],
            cwd=self.path,
            capture_output=True,
            env=git_environment(),
            check=False,
        )
        return result.returncode == 0

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        result = subprocess.run(
            ["git", "merge-base", "--is-ancestor", ancestor, descendant],
            cwd=self.path,
            capture_output=True,
            env=git_environment(),
            check=False,
        )
        return result.returncode == 0

    def merge_tree(self, ours: str, theirs: str) -> str | None:
        """The tree of merging `theirs` into `ours` (from their merge base), or None when they conflict.

        `git merge-tree --write-tree` merges without a work tree, as GitHub's merge button does.
        """
        result = subprocess.run(
            ["git", "merge-tree", "--write-tree", "--no-messages", ours, theirs],
            cwd=self.path,
            capture_output=True,
            text=True,
            env=git_environment(),
            check=False,
        )
        if result.returncode == 1:
            return None
        if result.returncode != 0:
            raise GitError(f"git merge-tree {ours} {theirs} failed: {result.stderr.strip()}")
        return result.stdout.split("\n", 1)[0].strip()

    def commit_tree(self, tree: str, parents: list[str], message: str, author: tuple[str, str]) -> str:
        """A commit of `tree` by `author` (name, e-mail), committed by GitHub, as the merge button makes them."""
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        env = {"GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1]}
        return self.git(*args, stdin=message, env=env).strip()

    def move_branch(self, branch: str, new: str, old: str) -> bool:
        """Point `branch` at `new` if it still points at `old` (False when it moved meanwhile)."""
        result = subprocess.run(
            ["git", "update-ref", f"refs/heads/{branch}", new, old],
            cwd=self.path,
            capture_output=True,
            env=git_environment(),
            check=False,
        )
        return result.returncode == 0

    def replay(self, onto: str, commits: list[str]) -> str | None:
        """Cherry-pick `commits` (oldest first) onto `onto`, keeping their authors: the tip, or None on a conflict.

        git 2.39 has no work-tree-free cherry-pick, so this uses a throwaway detached work tree, whose
        objects land in this repository.
        """
        with tempfile.TemporaryDirectory(prefix="fake-github-rebase-") as scratch:
            work = Path(scratch) / "work"
            self.git("worktree", "add", "--detach", "--quiet", str(work), onto)
            try:
                for sha in commits:
                    picked = subprocess.run(
                        ["git", "cherry-pick", "--allow-empty", "--keep-redundant-commits", sha],
                        cwd=work,
                        capture_output=True,
                        text=True,
                        env=git_environment(),
                        check=False,
                    )
                    if picked.returncode != 0:
                        return None
                return run_git("rev-parse", "HEAD", cwd=work).strip()
            finally:
                self.git("worktree", "remove", "--force", str(work))

    def commits_between(self, base: str, head: str) -> list[str]:
        """The commits `head` has that `base` has not, oldest first."""
        out = self.git("rev-list", "--reverse", f"{base}..{head}", "--")
        return out.split()

    def commits_new_to(self, head: str, known: list[str]) -> list[str]:
        """The commits reachable from `head` and from none of `known`, oldest first."""
        out = (
            self.git("rev-list", "--reverse", head, "--not", *known, "--")
            if known
            else self.git("rev-list", "--reverse", head, "--")
        )
        return out.split()

    def changed_paths(self, sha: str) -> dict[str, list[str]]:
        """{"added", "removed", "modified"}: the files `sha` changed against its first parent."""
        out = self.git(
            "diff-tree", "-r", "--no-commit-id", "--name-status", "--root", "-m", "--first-parent", sha, "--"
        )
        changes: dict[str, list[str]] = {"added": [], "removed": [], "modified": []}
        for line in out.splitlines():
            status, _, path = line.partition("\t")
            kind = {"A": "added", "D": "removed"}.get(status[:1], "modified")
            changes[kind].append(path)
        return changes

    def file_diff(self, base: str, head: str, path: str) -> str:
        """The unified diff (3 lines of context) of `path` between head and its merge base with base."""
        return self.git("diff", "-U3", "--no-color", "--no-ext-diff", f"{base}...{head}", "--", path)

    def changed_files(self, base: str, head: str) -> list[str]:
        return self.git("diff", "--name-only", f"{base}...{head}", "--").splitlines()
