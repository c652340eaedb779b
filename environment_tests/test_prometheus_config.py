"""The monitoring files of DEPLOYMENT.md (deploy/prometheus/): the scrape configuration and the alert
rules are valid for Prometheus (`promtool check`), the rules behave as their unit tests say (`promtool
test rules`), and every metric they name is one the platform exports."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client.metrics_core import Metric
from ruamel.yaml import YAML

from app.metrics import Metrics
from environment_tests.environment_files import REPO_ROOT

pytestmark = [pytest.mark.unit, pytest.mark.priority_p1]

PROMETHEUS_DIR = REPO_ROOT / "deploy" / "prometheus"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool is missing: `make test-environment` installs Debian's prometheus package (as root), "
    "or run `apt-get install prometheus`",
)


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args], cwd=PROMETHEUS_DIR, capture_output=True, text=True, timeout=120, check=False
    )


@needs_promtool
def test_the_scrape_configuration_is_valid() -> None:
    result = promtool("check", "config", "prometheus.yml")

    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_the_alert_rules_are_valid() -> None:
    result = promtool("check", "rules", "alerts.yml")

    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_the_alert_rules_pass_their_unit_tests() -> None:
    result = promtool("test", "rules", "alerts_test.yml")

    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_fails_a_rule_whose_unit_test_expects_otherwise(tmp_path: Path) -> None:
    """The unit test can fail: an expectation the rules do not meet is reported."""
    shutil.copy(PROMETHEUS_DIR / "alerts.yml", tmp_path / "alerts.yml")
    wrong = (
        (PROMETHEUS_DIR / "alerts_test.yml")
        .read_text()
        .replace("exp_labels: {severity: critical", "exp_labels: {severity: info", 1)
    )
    (tmp_path / "alerts_test.yml").write_text(wrong)

    assert PROMTOOL is not None
    result = subprocess.run(
        [PROMTOOL, "test", "rules", "alerts_test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode != 0 and "FAILED" in result.stdout + result.stderr


# The platform's metrics no alert watches, and why.
NOT_ALERTED = {
    "squad_llm_tokens",  # what tokens cost is watched instead (squad_llm_cost_usd)
    "squad_sse_active_streams",  # capped per squad (SQUAD_MAX_STREAMS); a dashboard's, not a pager's
}


def exported_series() -> set[str]:
    """The sample names the platform's registry exposes: a counter as NAME_total, a histogram as its
    _bucket, _sum and _count, a gauge as itself."""
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "gauge": [""]}
    families: list[Metric] = list(Metrics().registry.collect())
    return {family.name + suffix for family in families for suffix in suffixes[family.type]}


def test_every_alert_names_only_series_the_platform_exports() -> None:
    rules = YAML(typ="safe", pure=True).load((PROMETHEUS_DIR / "alerts.yml").read_text())
    expressions = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    named = {name for expr in expressions for name in re.findall(r"\bsquad_[a-z_]+", expr)}

    assert named, "no alert uses the platform's metrics"
    assert named <= exported_series(), f"not exported by app/metrics.py: {sorted(named - exported_series())}"
    alerted = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in named}
    unalerted = {family.name for family in Metrics().registry.collect()} - alerted - NOT_ALERTED
    assert not unalerted, f"app/metrics.py's {sorted(unalerted)} have no alert (or add them to NOT_ALERTED)"


def test_the_scrape_configuration_loads_the_rules_and_scrapes_the_metrics_path() -> None:
    config = YAML(typ="safe", pure=True).load((PROMETHEUS_DIR / "prometheus.yml").read_text())

    assert config["rule_files"] == ["alerts.yml"]
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "agent-squad"]
    assert job["metrics_path"] == "/metrics"
