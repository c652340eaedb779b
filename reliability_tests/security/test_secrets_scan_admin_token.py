"""The secrets scan knows the operator's token too: the in-process canary, SQUAD_ADMIN_TOKEN when set,
and any token of the shape the stack launcher makes (random per stack, so known only by its shape)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from fixtures.credentials import CANARY_SQUAD_ADMIN_TOKEN, new_admin_token
from tools.secrets_scan import main, secrets_to_find

pytestmark = [pytest.mark.integration, pytest.mark.priority_p0]


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    root = tmp_path / "reports"
    (root / "stack").mkdir(parents=True)
    (root / "stack" / "platform.log").write_text("INFO 127.0.0.1 POST /api/v1/squads 201\n")
    return root


def scan(reports: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = main([str(reports)])
    return status, capsys.readouterr().out


def test_the_canary_admin_token_in_a_log_is_a_leak_named_but_not_shown(reports, capsys):
    (reports / "stack" / "platform.log").write_text(f"DEBUG Authorization: Bearer {CANARY_SQUAD_ADMIN_TOKEN}\n")

    status, output = scan(reports, capsys)

    assert status == 1
    assert output.count("platform.log: holds the squad admin token") == 1, output
    assert "(canary)" in output
    assert CANARY_SQUAD_ADMIN_TOKEN not in output


def test_a_launched_stacks_random_admin_token_is_found_by_its_shape(reports, capsys):
    (reports / "junit.xml").write_text(f"<failure>POST /api/v1/squads with {new_admin_token()}</failure>")

    status, output = scan(reports, capsys)

    assert status == 1
    assert "junit.xml: holds the squad admin token (of a launched stack)" in output


def test_an_admin_token_from_the_environment_is_looked_for_even_base64_encoded(reports, capsys, monkeypatch):
    chosen = "operator-chose-this-token-0123456789"
    monkeypatch.setenv("SQUAD_ADMIN_TOKEN", chosen)
    (reports / "trace.network").write_text(base64.b64encode(f"Bearer {chosen}".encode()).decode())

    status, output = scan(reports, capsys)

    assert status == 1
    assert "holds the squad admin token (from SQUAD_ADMIN_TOKEN)" in output
    assert {secret.kind for secret in secrets_to_find()} >= {
        "squad admin token (canary)",
        "squad admin token (from SQUAD_ADMIN_TOKEN)",
    }


def test_the_prefix_alone_is_no_leak(reports, capsys):
    (reports / "stack" / "platform.log").write_text("tokens look like sqadmin_<40 hex>; see the README\n")

    status, output = scan(reports, capsys)

    assert status == 0, output
