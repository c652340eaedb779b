"""The secrets scan looks for the LLM API key too: the in-process canary, and a key the environment
gives a run instead."""

import pytest

from fixtures.credentials import CANARY_LLM_API_KEY
from tools import secrets_scan

pytestmark = [pytest.mark.unit, pytest.mark.priority_p0]


def test_the_canary_llm_key_in_a_report_is_a_leak_named_by_its_kind(tmp_path):
    (tmp_path / "worker.log").write_text(f"POST /v1/chat/completions Authorization: Bearer {CANARY_LLM_API_KEY}\n")

    findings, files = secrets_scan.scan([tmp_path], secrets_scan.secrets_to_find({}))

    assert files == 1
    assert [(f.where.rsplit("/", 1)[-1], f.kind) for f in findings] == [("worker.log", "LLM API key (canary)")]


def test_an_llm_key_given_by_the_environment_is_looked_for(tmp_path):
    given = "sk-proj-given0000000000000000000000000000"
    (tmp_path / "trace.json").write_text(f'{{"authorization": "Bearer {given}"}}')

    findings, _ = secrets_scan.scan([tmp_path], secrets_scan.secrets_to_find({"LLM_API_KEY": given}))

    assert [f.kind for f in findings] == ["LLM API key (from LLM_API_KEY)"]


def test_the_in_process_suites_give_the_platform_the_canary_llm_key(inprocess_settings):
    assert inprocess_settings.llm_api_key.get_secret_value() == CANARY_LLM_API_KEY
    assert CANARY_LLM_API_KEY in inprocess_settings.secrets(), "log lines are cleaned of it"
