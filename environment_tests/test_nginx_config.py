"""deploy/nginx/squad.conf, checked without nginx: what the event stream needs from the proxy in
front of it (no buffering, no compression, HTTP/1.1 to the upstream, a read timeout far above the
heartbeat), and that it proxies to the compose service the deployment names. That events and
heartbeats really pass is environment_tests/live_compose/test_nginx_stream.py, with nginx running."""

import re

import pytest

from environment_tests.environment_files import REPO_ROOT, load_yaml

pytestmark = [pytest.mark.unit, pytest.mark.priority_p0]

CONFIG = REPO_ROOT / "deploy" / "nginx" / "squad.conf"
HEARTBEAT_DEFAULT_S = 15


def _without_comments(text: str) -> str:
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


def _block(text: str, opening: str) -> str:
    """The body of the block that starts with `opening {` (blocks nest, so braces are counted)."""
    start = text.index(opening)
    depth, body_start = 0, text.index("{", start)
    for index in range(body_start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0:
            return text[body_start + 1 : index]
    raise AssertionError(f"unclosed block {opening}")


def _directives(block: str) -> dict[str, str]:
    return {m.group(1): m.group(2).strip() for m in re.finditer(r"^\s*([a-z_]+)\s+([^;{]*);", block, re.MULTILINE)}


@pytest.fixture(scope="module")
def config() -> str:
    return _without_comments(CONFIG.read_text())


def test_the_event_stream_is_proxied_unbuffered_and_uncompressed(config):
    stream = _directives(_block(config, "location = /api/v1/events"))
    assert stream.get("proxy_buffering") == "off", stream
    assert stream.get("gzip") == "off", stream
    assert stream.get("proxy_pass") == "http://squad_app", stream
    assert "proxy_ignore_headers" not in config, "the platform's X-Accel-Buffering: no must be honoured"


def test_the_stream_reads_far_longer_than_a_heartbeat(config):
    timeout = _directives(_block(config, "location = /api/v1/events"))["proxy_read_timeout"]
    seconds = int(timeout[:-1]) * {"s": 1, "m": 60, "h": 3600}[timeout[-1]]
    assert seconds >= 10 * HEARTBEAT_DEFAULT_S, f"proxy_read_timeout {timeout} would cut idle streams"


def test_the_upstream_is_spoken_to_over_http_1_1_with_connection_cleared(config):
    server = _directives(_block(config, "server {"))
    assert server.get("proxy_http_version") == "1.1", server
    # nginx's default towards the upstream is `Connection: close`, under which keepalive cannot work.
    assert re.search(r'^\s*proxy_set_header\s+Connection\s+"";', _block(config, "server {"), re.MULTILINE), server


def test_nginx_proxies_to_the_app_service_of_the_deployment(config):
    upstream = _directives(_block(config, "upstream squad_app"))
    host, port = upstream["server"].split(":")
    deploy = load_yaml(REPO_ROOT / "docker-compose.deploy.yml")["services"]
    assert host in deploy, f"nginx proxies to {host}, no service of docker-compose.deploy.yml"
    assert f"--port {port}" in " ".join(deploy[host]["command"]), deploy[host]["command"]
    listen = _directives(_block(config, "server {"))["listen"]
    assert any(str(port).endswith(f":{listen}") for port in deploy["nginx"]["ports"]), deploy["nginx"]["ports"]


def test_metrics_stay_inside_the_network(config):
    assert "return 404" in _block(config, "location = /metrics")
