"""LOG_FORMAT=json: one JSON object a line, with its level, logger, message, traceback and extra
fields, redacted of every secret the platform holds; a worker process logs so from its first line."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app import logs, server
from app.settings import Settings

pytestmark = [pytest.mark.unit, pytest.mark.priority_p2]

SECRET = "ghp_jsonLogCanary000000000000000000000001"
ROOT = Path(__file__).resolve().parents[2]


def record(message: str, *args: object, exc_info: object = None, **extra: object) -> logging.LogRecord:
    made = logging.getLogger("app.pipeline").makeRecord(
        "app.pipeline", logging.ERROR, __file__, 1, message, args, exc_info, extra=extra or None
    )
    return made


def test_a_record_is_one_json_line_with_its_fields() -> None:
    line = logs.JsonFormatter().format(record("task %s failed", "t1", task_id="t1"))

    entry = json.loads(line)
    assert "\n" not in line
    assert entry["level"] == "ERROR" and entry["logger"] == "app.pipeline"
    assert entry["message"] == "task t1 failed"
    assert entry["task_id"] == "t1"
    assert entry["time"].endswith("+00:00")


def test_the_traceback_is_a_field_and_secrets_are_redacted_everywhere() -> None:
    try:
        raise RuntimeError(f"holding {SECRET}")
    except RuntimeError:
        made = record("crashed with %s", SECRET, exc_info=sys.exc_info())

    line = logs.JsonFormatter([SECRET]).format(made)

    entry = json.loads(line)
    assert "RuntimeError: holding ***" in entry["exception"]
    assert entry["message"] == "crashed with ***"
    assert SECRET not in line


def test_the_format_follows_the_setting() -> None:
    assert isinstance(logs.formatter_for(Settings(log_format="json")), logs.JsonFormatter)
    assert not isinstance(logs.formatter_for(Settings()), logs.JsonFormatter)
    assert "log_config" in server.uvicorn_options(Settings(log_format="json"))
    assert "log_config" not in server.uvicorn_options(Settings())


def test_a_worker_process_logs_json_lines(tmp_path: Path) -> None:
    environment = {
        **os.environ,
        "LOG_FORMAT": "json",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/squad.db",
        "GITHUB_TOKEN": SECRET,
        "SENTRY_DSN": "",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "app", "worker"],
        cwd=ROOT,
        env=environment,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert worker.stderr is not None
        lines = []
        for line in worker.stderr:  # the process's own deadline is the test's timeout
            lines.append(line)
            if "started" in line:
                break
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    entries = [json.loads(line) for line in lines if line.strip()]
    assert any(entry["logger"] == "app.processes" and "started" in entry["message"] for entry in entries), lines
    assert all({"time", "level", "logger", "message"} <= set(entry) for entry in entries)
