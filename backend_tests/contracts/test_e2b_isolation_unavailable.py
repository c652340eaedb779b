"""Where sandboxes cannot be made, the fake E2B stops and says why and how to fix it: it never runs a
sandbox's commands on the host instead."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mocks.e2b import FakeE2B, isolation
from mocks.e2b.isolation import IsolationUnavailable

pytestmark = [pytest.mark.contract, pytest.mark.priority_p1]

REPOSITORY = Path(__file__).resolve().parents[2]
# What bubblewrap prints where the kernel refuses an unprivileged user namespace.
USERNS_REFUSED = (
    "bwrap: No permissions to creating new namespace, likely because the kernel does not allow non-privileged "
    "user namespaces."
)


def bin_dir(tmp_path: Path, **programs: str) -> Path:
    """A directory of programs: a name mapped to a shell script body, or to "=/path" for a link."""
    directory = tmp_path / "bin"
    directory.mkdir()
    for name, body in programs.items():
        program = directory / name
        if body.startswith("="):
            program.symlink_to(body[1:])
        else:
            program.write_text(f"#!/bin/sh\n{body}\n")
            program.chmod(0o755)
    return directory


def test_without_bubblewrap_the_fake_refuses_to_start_naming_cause_and_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(bin_dir(tmp_path, nsenter="=/usr/bin/nsenter")))

    with pytest.raises(IsolationUnavailable) as raised:
        FakeE2B()

    message = str(raised.value)
    assert "bubblewrap is not installed" in message
    assert "apt-get install bubblewrap" in message
    assert "never runs them on the host" in message


def test_refused_user_namespaces_are_named_with_bubblewraps_words_and_a_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    refusing = bin_dir(tmp_path, bwrap=f"echo '{USERNS_REFUSED}' >&2; exit 1", nsenter="=/usr/bin/nsenter")
    monkeypatch.setenv("PATH", f"{refusing}:/usr/bin:/bin")

    with pytest.raises(IsolationUnavailable) as raised:
        FakeE2B()

    message = str(raised.value)
    assert "No permissions to creating new namespace" in message, message
    assert "Fix:" in message and ("sysctl -w" in message or "--security-opt seccomp=unconfined" in message), message


@pytest.mark.parametrize(
    ("sysctls", "cause", "fix"),
    [
        (
            {"kernel.apparmor_restrict_unprivileged_userns": "1"},
            "AppArmor restricts unprivileged user namespaces",
            "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0",
        ),
        (
            {"kernel.unprivileged_userns_clone": "0"},
            "unprivileged user namespaces are disabled",
            "sudo sysctl -w kernel.unprivileged_userns_clone=1",
        ),
        ({"user.max_user_namespaces": "0"}, "user namespaces are disabled", "user.max_user_namespaces=15000"),
    ],
    ids=["apparmor", "debian-sysctl", "no-user-namespaces"],
)
def test_the_sysctl_that_refuses_namespaces_is_named_with_its_fix(
    monkeypatch: pytest.MonkeyPatch, sysctls: dict[str, str], cause: str, fix: str
) -> None:
    monkeypatch.setattr(isolation, "read_sysctl", sysctls.get)

    named_cause, named_fix = isolation.namespace_refusal(USERNS_REFUSED)

    assert cause in named_cause and "No permissions to creating new namespace" in named_cause
    assert fix in named_fix


def test_a_container_whose_engine_masks_proc_is_told_to_unconfine_its_system_paths(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(isolation, "read_sysctl", {}.get)
    monkeypatch.setattr(isolation, "in_a_container", lambda: True)

    named_cause, named_fix = isolation.namespace_refusal(
        "bwrap: Can't mount proc on /newroot/proc: Operation not permitted"
    )

    assert "masks paths under /proc" in named_cause and "Can't mount proc" in named_cause
    assert "systempaths=unconfined" in named_fix and "--privileged" in named_fix


def test_python_m_mocks_e2b_exits_non_zero_with_the_message_before_listening(tmp_path: Path) -> None:
    environment = {**os.environ, "PATH": str(bin_dir(tmp_path, nsenter="=/usr/bin/nsenter"))}

    result = subprocess.run(
        [sys.executable, "-m", "mocks.e2b", "--port", "0"],
        cwd=REPOSITORY,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 3, result
    assert "listening" not in result.stdout
    assert "bubblewrap is not installed" in result.stderr and "apt-get install bubblewrap" in result.stderr
