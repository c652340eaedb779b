"""The agent's tools, carried out in a fake E2B sandbox: what a call the model got wrong is told, how
commands, files and paths behave, and what the model and the terminal are sent back (cleaned of
secrets, cut to a bound)."""

import json

import pytest

from app.agent.tools import TERMINAL_CHARS_PER_COMMAND, Toolbox, parse_arguments, sandbox_path, shorten
from fixtures.credentials import CANARY_GITHUB_TOKEN

pytestmark = [pytest.mark.unit, pytest.mark.priority_p1]

SECRETS = (CANARY_GITHUB_TOKEN,)


@pytest.fixture
async def repo_sandbox(sandboxes, sandbox, sh):
    """A sandbox with a repository folder, as the clone leaves it."""
    await sh(sandbox, "mkdir -p repo/src", cwd="/home/user")
    return sandbox


@pytest.fixture
def terminal(output):
    return output


@pytest.fixture
def toolbox(sandboxes, repo_sandbox, terminal) -> Toolbox:
    return Toolbox(
        sandboxes, repo_sandbox, secrets=SECRETS, output_chars=400, command_timeout_s=20.0, on_output=terminal
    )


def call(**arguments) -> str:
    return json.dumps(arguments)


@pytest.mark.parametrize(
    ("name", "raw", "told"),
    [
        ("run_command", '{"command": "ls"', "run_command: the arguments are not valid JSON ("),
        ("run_command", '["ls"]', "run_command: the arguments must be a JSON object"),
        ("run_command", "{}", "run_command: the argument 'command' is required"),
        ("run_command", '{"command": 42}', "run_command: 'command' must be a string"),
        ("run_command", '{"command": "ls", "timeout_s": "5"}', "run_command: 'timeout_s' must be a number of seconds"),
        ("run_command", '{"command": "ls", "timeout_s": true}', "run_command: 'timeout_s' must be a number of seconds"),
        ("write_file", '{"path": "a.py"}', "write_file: the argument 'content' is required"),
        ("read_file", '{"path": "a", "lines": 3}', "read_file: unknown argument 'lines'; it takes path"),
        ("finish", '{"summary": null}', "finish: the argument 'summary' is required"),
        ("finish", "", "finish: the argument 'summary' is required"),
        ("delete_repo", "{}", "there is no tool 'delete_repo'; the tools are run_command, read_file, write_file"),
    ],
)
def test_arguments_the_model_got_wrong_are_refused_saying_what_is_wrong(name, raw, told):
    with pytest.raises(Exception) as raised:
        parse_arguments(name, raw)

    assert str(raised.value).startswith(told), str(raised.value)


def test_optional_arguments_may_be_left_out_or_null():
    assert parse_arguments("run_command", '{"command": "ls", "cwd": null}') == {"command": "ls"}


@pytest.mark.parametrize(
    ("path", "resolved"),
    [
        ("calc.py", "/home/user/repo/calc.py"),
        ("./src/../calc.py", "/home/user/repo/calc.py"),
        ("../notes.txt", "/home/user/notes.txt"),
        ("/home/user/repo/a", "/home/user/repo/a"),
        ("..", "/home/user"),
    ],
)
def test_paths_are_relative_to_the_repository_and_stay_in_the_users_home(path, resolved):
    assert sandbox_path(path) == resolved


@pytest.mark.parametrize("path", ["../../etc/passwd", "/etc/passwd", "/home/userx/a", "/home", "", "a\x00b"])
def test_paths_leaving_the_users_home_are_refused(path):
    with pytest.raises(Exception, match="leads outside /home/user|non-empty path"):
        sandbox_path(path)


def test_long_text_keeps_its_start_and_its_end():
    text = "A" * 50 + "B" * 100 + "C" * 50

    cut = shorten(text, 100)

    assert cut.startswith("A" * 50) and cut.endswith("C" * 50)
    assert "[... 100 characters cut ...]" in cut
    assert shorten("short", 100) == "short"


async def test_a_command_runs_in_the_repository_and_its_exit_code_and_output_come_back(toolbox, terminal):
    result = await toolbox.call("run_command", call(command="pwd >/dev/null; ls; echo oops >&2; exit 3"))

    assert result.exit_code == 3 and not result.malformed
    assert result.content == "exit code: 3\nsrc\noops\n"
    assert terminal.text == "src\noops\n", "the board's terminal shows the command's output as it runs"


async def test_a_command_may_run_in_another_directory_of_the_repository(toolbox, sandboxes, repo_sandbox):
    await sandboxes.write_file(repo_sandbox, "/home/user/repo/src/x.txt", b"x")

    result = await toolbox.call("run_command", call(command="ls", cwd="src"))

    assert result.content == "exit code: 0\nx.txt\n"


async def test_a_missing_working_directory_is_told_by_bash(toolbox):
    result = await toolbox.call("run_command", call(command="ls", cwd="nowhere"))

    assert result.exit_code == 1 and "nowhere" in result.content and not result.malformed


@pytest.mark.parametrize(
    ("arguments", "told"),
    [
        ({"command": "   "}, "error: run_command: the command is empty"),
        (
            {"command": "ls", "timeout_s": 0},
            "error: run_command: 'timeout_s' must be a number of seconds greater than 0",
        ),
        (
            {"command": "ls", "cwd": "/etc"},
            "error: the cwd '/etc' leads outside /home/user, where the agent may not go",
        ),
    ],
)
async def test_a_command_that_cannot_be_run_as_asked_is_a_mistake_told_to_the_model(
    toolbox, e2b_routes, arguments, told
):
    commands_before = e2b_routes["process_start"].call_count

    result = await toolbox.call("run_command", json.dumps(arguments))

    assert (result.malformed, result.content) == (True, told)
    assert e2b_routes["process_start"].call_count == commands_before, "nothing ran"


async def test_a_command_past_its_timeout_is_stopped_and_the_model_told(toolbox):
    result = await toolbox.call("run_command", call(command="sleep 30", timeout_s=0.3))

    assert result.exit_code is None
    assert result.content == "the command was stopped after 0.3 s, its time limit"


async def test_the_models_timeout_cannot_exceed_the_platforms(sandboxes, repo_sandbox, e2b_routes):
    toolbox = Toolbox(sandboxes, repo_sandbox, secrets=(), output_chars=400, command_timeout_s=7.0)

    await toolbox.call("run_command", call(command="true", timeout_s=3600))

    assert e2b_routes["process_start"].calls.last.request.headers["connect-timeout-ms"] == "7000"


async def test_long_output_reaches_the_model_cut_in_the_middle(toolbox):
    result = await toolbox.call("run_command", call(command="seq 1 2000"))

    assert result.content.startswith("exit code: 0\n1\n2\n3\n") and result.content.endswith("1999\n2000\n")
    assert "characters cut" in result.content and len(result.content) < 500


async def test_a_secret_in_a_commands_output_reaches_neither_the_model_nor_the_terminal(toolbox, terminal):
    result = await toolbox.call("run_command", call(command=f"echo token={CANARY_GITHUB_TOKEN}"))

    assert CANARY_GITHUB_TOKEN not in result.content and "token=***" in result.content
    assert CANARY_GITHUB_TOKEN not in terminal.text and "token=***" in terminal.text


async def test_a_command_printing_without_end_shows_the_terminal_a_bounded_part(toolbox, terminal):
    await toolbox.call("run_command", call(command="yes 0123456789 | head -c 200000"))

    shown = terminal.text
    assert len(shown) < TERMINAL_CHARS_PER_COMMAND + 100
    assert shown.endswith("[... the rest of this command's output is not shown here ...]\n")


async def test_a_file_written_is_read_back_and_seen_by_commands(toolbox):
    written = await toolbox.call("write_file", call(path="src/calc.py", content="def add(a, b):\n    return a + b\n"))
    read = await toolbox.call("read_file", call(path="src/calc.py"))
    listed = await toolbox.call("run_command", call(command="cat src/calc.py"))

    assert written.content == "wrote 32 bytes to /home/user/repo/src/calc.py"
    assert read.content == "def add(a, b):\n    return a + b\n"
    assert listed.content == "exit code: 0\ndef add(a, b):\n    return a + b\n"


async def test_reading_a_missing_file_tells_the_model_without_counting_as_its_mistake(toolbox):
    result = await toolbox.call("read_file", call(path="nope.py"))

    assert result.content.startswith("error: cannot read /home/user/repo/nope.py: ")
    assert not result.malformed


async def test_writing_over_a_directory_tells_the_model(toolbox):
    result = await toolbox.call("write_file", call(path="src", content="x"))

    assert result.content.startswith("error: cannot write /home/user/repo/src: ") and not result.malformed


async def test_a_binary_file_is_not_sent_to_the_model(toolbox, sandboxes, repo_sandbox):
    await sandboxes.write_file(repo_sandbox, "/home/user/repo/blob.bin", b"\x89PNG\x00\x01\x02")

    result = await toolbox.call("read_file", call(path="blob.bin"))

    assert result.content == "/home/user/repo/blob.bin is a binary file of 7 bytes; it is not shown"


async def test_a_path_outside_the_home_is_a_mistake_of_the_models(toolbox):
    result = await toolbox.call("read_file", call(path="/etc/passwd"))

    assert result.malformed
    assert result.content == "error: the path '/etc/passwd' leads outside /home/user, where the agent may not go"


async def test_finish_carries_the_summary_and_ends_the_work(toolbox):
    result = await toolbox.call("finish", call(summary="  Fixed add().  "))

    assert (result.finished, result.summary) == (True, "Fixed add().")


async def test_an_unknown_tool_is_a_mistake_told_to_the_model(toolbox):
    result = await toolbox.call("browse_web", call(url="https://example.com"))

    assert result.malformed and result.content.startswith("error: there is no tool 'browse_web'")
