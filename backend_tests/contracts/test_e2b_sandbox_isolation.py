"""A fake E2B sandbox is a sandbox: its commands see its own filesystem and processes, never the host's.

Driven as the real E2B is, through the official SDK against the fake's server. What a test looks for on
the host side (a file, a process) it finds through the host's own /proc and filesystem.
"""

from __future__ import annotations

import os
import secrets
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from e2b import Sandbox
from e2b.exceptions import FileNotFoundException, SandboxException

from fixtures import http
from fixtures.waiting import eventually
from mocks.e2b import FakeE2B
from mocks.e2b.connect_protocol import CONTENT_TYPE, encode_envelope

pytestmark = [pytest.mark.contract, pytest.mark.priority_p0]

REPOSITORY = Path(__file__).resolve().parents[2]

# What `ls /` may show in a sandbox: its own directories and the mount points of the host's system
# directories (lib32, libx32 only where the host has them).
SANDBOX_TOP_LEVEL = {"bin", "dev", "etc", "home", "lib", "lib32", "lib64", "libx32", "proc", "root", "sbin", "tmp"}
SANDBOX_TOP_LEVEL |= {"usr", "var"}


def marker_duration() -> str:
    """A `sleep` argument no other process on the host has: its argv names the process for the test."""
    return f"{300 + secrets.randbelow(600)}.{secrets.randbelow(10**9):09d}"


def host_pids_running(argument: str) -> list[int]:
    """The host's processes with `argument` as one of their arguments (zombies have none, so not them)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argument.encode() in argv:
                found.append(int(entry.name))
    return found


def one_host_pid_running(argument: str) -> int:
    pids = host_pids_running(argument)
    assert len(pids) == 1, f"processes with the argument {argument} on the host: {pids}"
    return pids[0]


def host_state(pid: int) -> str:
    """The kernel's one-letter state of a host process (S sleeping, T stopped...)."""
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]


def start_background_sleeps(sandbox: Sandbox) -> list[str]:
    """Leave a plain background process, a `nohup` one and a `setsid` daemon behind one command; the
    command returns at once (their output goes nowhere). Returns their markers."""
    plain, hangup_proof, daemon = marker_duration(), marker_duration(), marker_duration()
    sandbox.commands.run(
        f"sleep {plain} >/dev/null 2>&1 & nohup sleep {hangup_proof} >/dev/null 2>&1 & "
        f"setsid sh -c 'exec sleep {daemon}' >/dev/null 2>&1 &"
    )
    return [plain, hangup_proof, daemon]


def assert_running_on_host(markers: list[str]) -> None:
    missing = [marker for marker in markers if not host_pids_running(marker)]
    assert not missing, f"no process `sleep {missing[0]}` runs on the host"


def assert_gone_from_host(markers: list[str]) -> None:
    left = {marker: host_pids_running(marker) for marker in markers if host_pids_running(marker)}
    assert not left, f"processes still running on the host after the sandbox ended: {left}"


# -- who and where a command is ---------------------------------------------------------------------------
def test_commands_run_as_user_1000_in_home_user(fake_e2b: FakeE2B, e2b_sdk_env: str) -> None:
    sandbox = Sandbox.create()

    result = sandbox.commands.run('whoami; id -u; id -g; pwd; echo "$HOME"')

    assert result.stdout == "user\n1000\n1000\n/home/user\n/home/user\n"
    sandbox.kill()


def test_root_requests_run_as_uid_0_with_roots_home(fake_e2b: FakeE2B, e2b_sdk_env: str) -> None:
    sandbox = Sandbox.create()

    result = sandbox.commands.run('whoami; id -u; echo "$HOME"; pwd', user="root")

    assert result.stdout == "root\n0\n/root\n/root\n"
    sandbox.kill()


def test_user_commands_have_no_capabilities(fake_e2b: FakeE2B, e2b_sdk_env: str) -> None:
    sandbox = Sandbox.create()

    result = sandbox.commands.run("grep -E '^Cap(Prm|Eff|Amb)' /proc/self/status")

    assert [line.split()[1] for line in result.stdout.splitlines()] == ["0000000000000000"] * 3, result.stdout
    sandbox.kill()


# -- the filesystem --------------------------------------------------------------------------------------
def test_ls_of_root_shows_only_the_sandbox_directories(fake_e2b: FakeE2B, e2b_sdk_env: str) -> None:
    sandbox = Sandbox.create()

    listed = set(sandbox.commands.run("ls -A /").stdout.split())

    assert {"home", "tmp", "usr", "etc"} <= listed
    assert listed <= SANDBOX_TOP_LEVEL, f"the sandbox shows host directories: {sorted(listed - SANDBOX_TOP_LEVEL)}"
    sandbox.kill()


def test_the_hosts_files_are_invisible(fake_e2b: FakeE2B, e2b_sdk_env: str, tmp_path: Path) -> None:
    secret = tmp_path / "host-secret.txt"
    secret.write_text("host only\n")
    sandbox = Sandbox.create()
    host_paths = [
        secret,
        Path(__file__).resolve(),  # the repository
        fake_e2b.root,  # the fake's own directory
        fake_e2b.workspace(sandbox.sandbox_id),  # the sandbox's own home, by its host path
        Path("/work"),
    ]
    script = "; ".join(f"test -e '{path}' && echo 'visible {path}' || echo 'invisible {path}'" for path in host_paths)

    seen = sandbox.commands.run(script).stdout.splitlines()
    read = sandbox.commands.run(f"cat '{secret}' 2>&1 || true").stdout

    assert seen == [f"invisible {path}" for path in host_paths]
    assert "No such file or directory" in read and "host only" not in read
    sandbox.kill()


def test_usr_is_read_only_even_for_root(fake_e2b: FakeE2B, e2b_sdk_env: str) -> None:
    sandbox = Sandbox.create()

    as_user = sandbox.commands.run("touch /usr/bin/planted 2>&1 || true").stdout
    as_root = sandbox.commands.run("touch /usr/bin/planted 2>&1; mount -o remount,rw /usr 2>&1 || true", user="root")

    assert "Read-only file system" in as_user
    assert "Read-only file system" in as_root.stdout and "permission denied" in as_root.stdout.lower()
    assert sandbox.commands.run("test -e /usr/bin/planted || echo absent").stdout == "absent\n"
    sandbox.kill()


def test_tmp_is_private_to_each_sandbox(fake_e2b: FakeE2B, e2b_sdk_env: str) -> None:
    name = f"/tmp/only-in-a-{secrets.token_hex(4)}"
    first, second = Sandbox.create(), Sandbox.create()

    first.commands.run(f"echo mine > {name}")
    in_first = first.commands.run(f"cat {name}").stdout
    in_second = second.commands.run(f"cat {name} 2>&1 || true").stdout

    assert in_first == "mine\n"
    assert "No such file or directory" in in_second
    assert not Path(name).exists(), "the host's own /tmp was written"
    first.kill()
    second.kill()


@pytest.mark.parametrize(
    "path", ["/home/user/notes.txt", "relative/dir/notes.txt", "/tmp/notes.txt", "/opt/data/notes.txt"]
)
def test_the_files_api_and_commands_see_one_filesystem(fake_e2b: FakeE2B, e2b_sdk_env: str, path: str) -> None:
    sandbox = Sandbox.create()
    inside = path if path.startswith("/") else f"/home/user/{path}"

    sandbox.files.write(path, "through the files API\n")
    printed = sandbox.commands.run(f"cat {inside}").stdout
    sandbox.commands.run(f"echo 'through a command' > {inside}")
    read = sandbox.files.read(path)

    assert printed == "through the files API\n"
    assert read == "through a command\n"
    sandbox.kill()


def test_a_files_api_write_under_usr_is_refused_and_leaves_no_hidden_file(fake_e2b: FakeE2B, e2b_sdk_env: str) -> None:
    sandbox = Sandbox.create()
    root = fake_e2b.workspace(sandbox.sandbox_id).parent.parent

    with pytest.raises(SandboxException, match="read-only file system"):
        sandbox.files.write("/usr/planted.txt", "x")
    with pytest.raises(SandboxException, match="read-only file system"):
        sandbox.files.write("/usr/share/new-dir/planted.txt", "x")

    assert not (root / "usr" / "planted.txt").exists() and not (root / "usr" / "share").exists()
    assert "No such file" in sandbox.commands.run("ls /usr/planted.txt 2>&1 || true").stdout
    sandbox.kill()


# -- hostile paths ---------------------------------------------------------------------------------------
def test_dot_dot_paths_stay_inside_the_sandbox(fake_e2b: FakeE2B, e2b_sdk_env: str) -> None:
    name = f"escape-{secrets.token_hex(4)}.txt"
    sandbox = Sandbox.create()

    passwd = sandbox.files.read("../../etc/passwd")
    sandbox.files.write(f"/home/user/../../../work/{name}", "planted\n")
    seen_inside = sandbox.commands.run(f"cat /work/{name}").stdout

    try:
        assert "user:x:1000:1000::/home/user:/bin/bash" in passwd
        assert passwd != Path("/etc/passwd").read_text(), "the host's /etc/passwd was read"
        assert seen_inside == "planted\n"
        assert not Path("/work", name).exists(), "a file was written on the host's /work"
    finally:
        Path("/work", name).unlink(missing_ok=True)
    sandbox.kill()


def test_a_hostile_working_directory_cannot_reach_the_host(fake_e2b: FakeE2B, e2b_sdk_env: str) -> None:
    sandbox = Sandbox.create()

    climbed = sandbox.commands.run("pwd; ls -A", cwd="/home/user/../../../..")
    with pytest.raises(SandboxException, match="No such file or directory"):
        sandbox.commands.run("pwd", cwd="/home/user/../../../work")

    assert climbed.stdout.splitlines()[0] == "/"
    assert set(climbed.stdout.splitlines()[1:]) <= SANDBOX_TOP_LEVEL
    sandbox.kill()


def test_links_planted_in_the_sandbox_lead_to_the_sandbox_not_the_host(
    fake_e2b: FakeE2B, e2b_sdk_env: str, tmp_path: Path
) -> None:
    (tmp_path / "host-secret.txt").write_text("host only\n")
    sandbox = Sandbox.create()
    sandbox.commands.run(f"ln -s {tmp_path} /home/user/to-host; ln -s / /home/user/to-root; ln -s ../../.. up")

    with pytest.raises(FileNotFoundException):
        sandbox.files.read("to-host/host-secret.txt")
    sandbox.files.write("to-host/planted.txt", "planted\n")
    via_root = sandbox.files.read("to-root/etc/passwd")
    via_up = sandbox.files.read("up/etc/hostname")

    assert not (tmp_path / "planted.txt").exists(), "the files API wrote through a link onto the host"
    assert sandbox.commands.run(f"cat {tmp_path}/planted.txt").stdout == "planted\n"
    assert "user:x:1000" in via_root and via_root != Path("/etc/passwd").read_text()
    assert via_up == "e2b\n"
    sandbox.kill()


# -- processes -------------------------------------------------------------------------------------------
def test_ps_lists_only_the_sandboxs_own_processes(fake_e2b: FakeE2B, e2b_sdk_env: str) -> None:
    mine, elsewhere = Sandbox.create(), Sandbox.create()
    [other_marker, *_] = start_background_sleeps(elsewhere)

    listed = mine.commands.run("ps -eo pid=,args=").stdout
    pids = mine.commands.run("ls /proc | grep -E '^[0-9]+$'").stdout.split()

    commands = [line.split(maxsplit=1)[1] for line in listed.splitlines()]
    assert not [args for args in commands if "pytest" in args or other_marker in args], listed
    assert "ps -eo pid=,args=" in commands
    assert len(commands) <= 5 and len(pids) <= 5, f"more processes than the sandbox's own: {listed}"
    mine.kill()
    elsewhere.kill()


def test_a_background_process_outlives_its_command_and_dies_with_the_killed_sandbox(
    fake_e2b: FakeE2B, e2b_sdk_env: str
) -> None:
    sandbox = Sandbox.create()

    markers = start_background_sleeps(sandbox)
    later = sandbox.commands.run("ps -eo args=").stdout
    eventually(lambda: assert_running_on_host(markers), description="the background processes to run")
    sandbox.kill()

    assert all(f"sleep {marker}" in later for marker in markers), later
    eventually(lambda: assert_gone_from_host(markers), description="the killed sandbox's processes to end")


def test_expiry_ends_every_process_of_the_sandbox(fake_e2b: FakeE2B, e2b_sdk_env: str) -> None:
    sandbox = Sandbox.create(timeout=60)
    markers = start_background_sleeps(sandbox)
    eventually(lambda: assert_running_on_host(markers), description="the background processes to run")

    fake_e2b.advance_time(61)

    assert fake_e2b.get_sandbox(sandbox.sandbox_id) is None  # any look at the fake applies expiry
    eventually(lambda: assert_gone_from_host(markers), description="the expired sandbox's processes to end")


def test_a_command_cannot_end_its_own_sandbox(fake_e2b: FakeE2B, e2b_sdk_env: str) -> None:
    """A sandbox's first process ignores the signals of its own sandbox: `kill -9 -1` as root, or
    killing the sandbox's processes by name, leaves the sandbox running."""
    sandbox = Sandbox.create()

    sandbox.commands.run("kill -KILL 1; kill -KILL -1; pkill -KILL sleep; true", user="root")
    after = sandbox.commands.run("echo still here")

    assert after.stdout == "still here\n"
    assert fake_e2b.get_sandbox(sandbox.sandbox_id) is not None
    sandbox.kill()


@pytest.mark.priority_p1
def test_pause_stops_and_resume_continues_processes_that_left_their_command(
    fake_e2b: FakeE2B, e2b_sdk_env: str
) -> None:
    sandbox = Sandbox.create()
    [_, _, daemon] = start_background_sleeps(sandbox)
    pid = eventually(lambda: one_host_pid_running(daemon), description="the setsid daemon to run")

    def in_state(letter: str) -> None:
        assert host_state(pid) == letter, f"the setsid daemon {pid} is {host_state(pid)}, not {letter}"

    fake_e2b.pause(sandbox.sandbox_id)
    eventually(lambda: in_state("T"), description="the paused sandbox's daemon to stop")
    Sandbox.connect(sandbox.sandbox_id)
    eventually(lambda: in_state("S"), description="the resumed sandbox's daemon to continue")
    sandbox.kill()


@pytest.mark.priority_p1
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["terminated", "killed"])
def test_a_fake_server_that_stops_leaves_no_sandbox_process_behind(stop: signal.Signals, tmp_path: Path) -> None:
    """Stopped (SIGTERM), the fake kills its sandboxes; killed outright (SIGKILL), it cannot, and the
    sandboxes die with it all the same (bubblewrap's --die-with-parent)."""
    marker = marker_duration()
    server = subprocess.Popen(
        [sys.executable, "-m", "mocks.e2b", "--host", "127.0.0.1", "--port", "0"],
        cwd=REPOSITORY,
        env={
            **os.environ,
            "FAKE_E2B_API_KEYS": "e2b_" + "5" * 40,
            "TMPDIR": str(tmp_path),
        },  # a killed fake leaves its files
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and select.select([server.stdout], [], [], 30)[0], "the fake did not start"
        url = server.stdout.readline().split()[-1]
        created = http.post(
            f"{url}/v2/sandboxes", json={"templateID": "base"}, headers={"X-API-Key": "e2b_" + "5" * 40}
        )
        start = encode_envelope(
            {"process": {"cmd": "/bin/bash", "args": ["-c", f"setsid sleep {marker} >/dev/null 2>&1 &"]}}
        )
        http.post(
            f"{url}/process.Process/Start",
            content=start,
            headers={"E2b-Sandbox-Id": created.json()["sandboxID"], "Content-Type": CONTENT_TYPE},
        )
        eventually(lambda: assert_running_on_host([marker]), description="the sandbox's daemon to run")

        server.send_signal(stop)
        server.wait(timeout=30)

        eventually(lambda: assert_gone_from_host([marker]), description="the stopped fake's sandbox processes to end")
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        assert server.stdout is not None
        server.stdout.close()
