"""Fake of GitHub: the REST API for repositories and pull requests, and git smart HTTP on real repositories."""

from mocks.github.state import FakeGitHub, PullRequest, Repository

__all__ = ["FakeGitHub", "PullRequest", "Repository"]
