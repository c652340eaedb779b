"""The secrets scan finds a planted canary wherever a report could hold it, names the file, never the secret.

It knows the operator's token too: the in-process canary, SQUAD_ADMIN_TOKEN when set, and any token of the
shape the stack launcher makes (random per stack, so known only by its shape)."""

from __future__ import annotations

import base64
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from fixtures.credentials import (
    CANARY_E2B_API_KEY,
    CANARY_GITHUB_TOKEN,
    CANARY_SQUAD_ADMIN_TOKEN,
    new_admin_token,
)
from tools.secrets_scan import ROOT, main, secrets_to_find

pytestmark = [pytest.mark.integration, pytest.mark.priority_p0]


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    """A report tree like a clean run leaves: JUnit XML, a stack log, a Playwright trace."""
    root = tmp_path / "reports"
    (root / "junit").mkdir(parents=True)
    (root / "junit" / "backend.xml").write_text('<testsuite tests="1"><testcase name="ok"/></testsuite>')
    (root / "stack" / "gw0").mkdir(parents=True)
    (root / "stack" / "gw0" / "platform.log").write_text("INFO 127.0.0.1 POST /api/v1/tasks 201\n")
    (root / "playwright").mkdir()
    write_trace(root / "playwright" / "trace.zip", {"trace.network": '{"url": "/api/v1/tasks"}'})
    return root


def write_trace(path: Path, members: dict[str, str | bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)


def run_scan(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = main([str(path)])
    return status, capsys.readouterr().out


def test_a_clean_tree_passes(reports, capsys):
    status, output = run_scan(reports, capsys)

    assert status == 0, output
    assert "3 files clean" in output


def test_a_canary_in_a_log_fails_naming_the_file_and_kind_but_not_the_secret(reports, capsys):
    log = reports / "stack" / "gw0" / "fake-github.log"
    log.write_text(f"DEBUG Authorization: token {CANARY_GITHUB_TOKEN}\n")

    status, output = run_scan(reports, capsys)

    assert status == 1
    assert "fake-github.log: holds the GitHub token (canary)" in output
    assert CANARY_GITHUB_TOKEN not in output


def test_a_canary_inside_a_trace_zip_nested_in_a_zip_is_found(reports, capsys):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("resources/request.json", f'{{"headers": {{"X-API-Key": "{CANARY_E2B_API_KEY}"}}}}')
    write_trace(reports / "playwright" / "failed-trace.zip", {"nested.zip": inner.getvalue()})

    status, output = run_scan(reports, capsys)

    assert status == 1
    assert "failed-trace.zip!nested.zip!resources/request.json: holds the E2B API key (canary)" in output
    assert CANARY_E2B_API_KEY not in output


@pytest.mark.parametrize("prefix", [b"", b"x", b"x-access-token:"], ids=["aligned", "offset-1", "basic-auth"])
def test_a_canary_in_base64_is_found_at_any_alignment(reports, capsys, prefix):
    encoded = base64.b64encode(prefix + CANARY_GITHUB_TOKEN.encode() + b"\n").decode()
    (reports / "junit" / "frontend.xml").write_text(f"<system-out>Authorization: Basic {encoded}</system-out>")

    status, output = run_scan(reports, capsys)

    assert status == 1 and "frontend.xml: holds the GitHub token (canary)" in output


def test_credentials_given_by_the_environment_are_looked_for_too(reports, capsys, monkeypatch):
    external = "e2b_external0000000000000000000000000000000"
    monkeypatch.setenv("E2B_API_KEY", external)
    (reports / "locust.log").write_text(f"key={external}")

    status, output = run_scan(reports, capsys)

    assert status == 1 and "locust.log: holds the E2B API key (from E2B_API_KEY)" in output


def test_the_in_process_suites_run_with_the_canaries(inprocess_settings):
    assert inprocess_settings.e2b_api_key.get_secret_value() == CANARY_E2B_API_KEY
    assert inprocess_settings.github_token.get_secret_value() == CANARY_GITHUB_TOKEN


def test_the_command_line_exits_1_on_a_leak(reports):
    (reports / "coverage.xml").write_text(f"<source>{CANARY_E2B_API_KEY}</source>")

    result = subprocess.run(
        [sys.executable, "-m", "tools.secrets_scan", str(reports)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 1, result.stdout + result.stderr
    assert "coverage.xml: holds the E2B API key (canary)" in result.stdout


def test_the_canary_admin_token_in_a_log_is_a_leak_named_but_not_shown(reports, capsys):
    (reports / "stack" / "gw0" / "platform.log").write_text(f"DEBUG Authorization: Bearer {CANARY_SQUAD_ADMIN_TOKEN}\n")

    status, output = run_scan(reports, capsys)

    assert status == 1
    assert output.count("platform.log: holds the squad admin token") == 1, output
    assert "(canary)" in output
    assert CANARY_SQUAD_ADMIN_TOKEN not in output


def test_a_launched_stacks_random_admin_token_is_found_by_its_shape(reports, capsys):
    (reports / "junit.xml").write_text(f"<failure>POST /api/v1/squads with {new_admin_token()}</failure>")

    status, output = run_scan(reports, capsys)

    assert status == 1
    assert "junit.xml: holds the squad admin token (of a launched stack)" in output


def test_an_admin_token_from_the_environment_is_looked_for_even_base64_encoded(reports, capsys, monkeypatch):
    chosen = "operator-chose-this-token-0123456789"
    monkeypatch.setenv("SQUAD_ADMIN_TOKEN", chosen)
    (reports / "trace.network").write_text(base64.b64encode(f"Bearer {chosen}".encode()).decode())

    status, output = run_scan(reports, capsys)

    assert status == 1
    assert "holds the squad admin token (from SQUAD_ADMIN_TOKEN)" in output
    assert {secret.kind for secret in secrets_to_find()} >= {
        "squad admin token (canary)",
        "squad admin token (from SQUAD_ADMIN_TOKEN)",
    }


def test_the_prefix_alone_is_no_leak(reports, capsys):
    (reports / "stack" / "gw0" / "platform.log").write_text("tokens look like sqadmin_<40 hex>; see the README\n")

    status, output = run_scan(reports, capsys)

    assert status == 0, output
