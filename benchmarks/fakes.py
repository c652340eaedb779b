"""Benchmark of the fakes: requests per second of each fake server on loopback, and the cost of one
respx-mocked call in-process. `python -m benchmarks.fakes` (or `make bench-fakes`).

Each server runs as `python -m mocks.<fake>` in its own process, as the live stack starts it, and an
asyncio httpx client keeps CONCURRENCY requests in flight over keep-alive connections. Every
operation sends a fixed number of requests (fewer for those that start a process: a command, git),
after a short warm-up, and stops early at its time bound (then the figure says how many it sent).
The server process's CPU time per request is reported too: unlike requests per second, it hardly
depends on what else the machine is doing (1e6 / it = requests per second on one free core). The respx
figures are the mean wall and CPU time of one `await client.get(...)` answered in-process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import respx

from mocks.e2b.connect_protocol import CONTENT_TYPE, encode_envelope
from mocks.e2b.router import E2B_API_URL, e2b_router
from mocks.e2b.state import FakeE2B
from mocks.github.router import GITHUB_API_URL, github_router
from mocks.github.state import FakeGitHub

ROOT = Path(__file__).resolve().parents[1]
API_KEY = "e2b_" + "b" * 40
TOKEN = "ghp_benchmark_token"
CONCURRENCY = 8
TIME_BOUND_S = 20.0
RESPX_CALLS = 2000

Send = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


@dataclass
class Result:
    fake: str
    operation: str
    requests: int
    seconds: float
    failures: int
    server_cpu_seconds: float | None  # CPU the server process (and the children it waited for) used

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_us_per_request(self) -> float | None:
        """Load-independent cost: the server's CPU time per request (1e6 / this = req/s on one free core)."""
        if self.server_cpu_seconds is None or not self.requests:
            return None
        return self.server_cpu_seconds / self.requests * 1e6


def cpu_seconds(pid: int) -> float | None:
    """utime + stime + cutime + cstime of a process, from /proc (None where there is no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def start_server(module: str, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--host", "127.0.0.1", "--port", "0"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], 20)
    line = process.stdout.readline() if ready else ""
    match = re.search(r"listening on (http://\S+)", line)
    if not match:
        process.kill()
        raise RuntimeError(f"{module} did not start (first line: {line!r})")
    return process, match.group(1)


def stop_server(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    if process.stdout is not None:
        process.stdout.close()


async def measure(
    client: httpx.AsyncClient, fake: str, operation: str, send: Send, count: int, server_pid: int
) -> Result:
    """Send `count` requests, CONCURRENCY at a time; a non-2xx answer or a transport error is a failure."""
    for _ in range(min(20, count)):  # warm-up: connections open, caches filled
        await send(client)
    sent = failures = 0
    deadline = time.monotonic() + TIME_BOUND_S
    lock = asyncio.Lock()

    async def worker() -> None:
        nonlocal sent, failures
        while True:
            async with lock:
                if sent >= count or time.monotonic() > deadline:
                    return
                sent += 1
            try:
                response = await send(client)
                failures += not response.is_success
            except httpx.HTTPError:
                failures += 1

    cpu_before = cpu_seconds(server_pid)
    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - began
    cpu_after = cpu_seconds(server_pid)
    server_cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return Result(fake, operation, sent, elapsed, failures, server_cpu)


async def bench_e2b(count: int) -> list[Result]:
    process, url = start_server("mocks.e2b", {"FAKE_E2B_API_KEYS": API_KEY, "FAKE_E2B_MAX_CONCURRENT": "100000"})
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    try:
        async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": API_KEY}, limits=limits) as client:
            sandboxes = [
                (
                    await client.post("/v2/sandboxes", json={"templateID": "base", "timeout": 3600, "secure": True})
                ).json()
                for _ in range(10)
            ]
            first = sandboxes[0]
            envd = {"E2b-Sandbox-Id": first["sandboxID"], "X-Access-Token": first["envdAccessToken"]}
            await client.post(
                "/files",
                params={"path": "bench.txt"},
                content=b"x" * 1024,
                headers={**envd, "Content-Type": "application/octet-stream"},
            )
            start = encode_envelope({"process": {"cmd": "/bin/true", "args": []}, "stdin": False})

            async def create_and_kill(c: httpx.AsyncClient) -> httpx.Response:
                created = await c.post("/v2/sandboxes", json={"templateID": "base", "timeout": 60})
                return await c.delete(f"/sandboxes/{created.json()['sandboxID']}")

            operations: list[tuple[str, Send, int]] = [
                ("GET /sandboxes/{id}", lambda c: c.get(f"/sandboxes/{first['sandboxID']}"), count),
                ("GET /v2/sandboxes (10 listed)", lambda c: c.get("/v2/sandboxes"), count),
                ("POST /v2/sandboxes + DELETE (pair)", create_and_kill, count // 4),
                (
                    "envd GET /files (1 KiB)",
                    lambda c: c.get("/files", params={"path": "bench.txt"}, headers=envd),
                    count,
                ),
                (
                    "envd process.Process/Start /bin/true",
                    lambda c: c.post(
                        "/process.Process/Start", content=start, headers={**envd, "Content-Type": CONTENT_TYPE}
                    ),
                    count // 10,
                ),
            ]
            return [await measure(client, "E2B", name, send, n, process.pid) for name, send, n in operations]
    finally:
        stop_server(process)


async def bench_github(count: int) -> list[Result]:
    process, url = start_server("mocks.github", {"FAKE_GITHUB_TOKENS": TOKEN})
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    try:
        async with httpx.AsyncClient(base_url=url, limits=limits) as client:
            await client.post("/_fake/repos", json={"owner": "acme", "name": "widgets"})
            await client.post("/_fake/rate_limit", json={"token": TOKEN, "limit": 10_000_000, "remaining": 10_000_000})
            client.headers["Authorization"] = f"Bearer {TOKEN}"
            git_auth = httpx.BasicAuth("x-access-token", TOKEN)
            operations: list[tuple[str, Send, int]] = [
                ("GET /rate_limit", lambda c: c.get("/rate_limit"), count),
                ("GET /repos/{o}/{r}", lambda c: c.get("/repos/acme/widgets"), count),
                ("GET /repos/{o}/{r}/pulls", lambda c: c.get("/repos/acme/widgets/pulls"), count // 4),
                (
                    "git GET info/refs (upload-pack)",
                    lambda c: c.get(
                        "/acme/widgets.git/info/refs", params={"service": "git-upload-pack"}, auth=git_auth
                    ),
                    count // 10,
                ),
            ]
            return [await measure(client, "GitHub", name, send, n, process.pid) for name, send, n in operations]
    finally:
        stop_server(process)


async def respx_cost(calls: int) -> list[tuple[str, float, float]]:
    """(name, wall µs, CPU µs) of one respx-mocked call: a static route, and each fake through its router."""
    results: list[tuple[str, float, float]] = []
    with respx.mock(base_url="https://static.example", assert_all_called=False) as router:
        router.get("/thing").respond(200, json={"ok": True})
        async with httpx.AsyncClient(base_url="https://static.example") as client:
            results.append(("respx static route (baseline)", *await time_calls(client, "/thing", calls)))
    e2b = FakeE2B([API_KEY])
    try:
        e2b.create_sandbox()
        with e2b_router(e2b):
            async with httpx.AsyncClient(base_url=E2B_API_URL, headers={"X-API-Key": API_KEY}) as client:
                name = "fake E2B GET /v2/sandboxes via respx"
                results.append((name, *await time_calls(client, "/v2/sandboxes", calls)))
    finally:
        e2b.close()
    github = FakeGitHub([TOKEN])
    try:
        github.create_repo("acme", "widgets")
        github.set_rate_limit(TOKEN, limit=10_000_000, remaining=10_000_000)
        with github_router(github):
            async with httpx.AsyncClient(base_url=GITHUB_API_URL, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
                name = "fake GitHub GET /repos/{o}/{r} via respx"
                results.append((name, *await time_calls(c, "/repos/acme/widgets", calls)))
    finally:
        github.close()
    return results


async def time_calls(client: httpx.AsyncClient, path: str, calls: int) -> tuple[float, float]:
    """(wall, CPU) microseconds per call."""
    for _ in range(50):
        (await client.get(path)).raise_for_status()
    began, cpu_began = time.perf_counter(), time.process_time()
    for _ in range(calls):
        await client.get(path)
    return (time.perf_counter() - began) / calls * 1e6, (time.process_time() - cpu_began) / calls * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fakes", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per cheap operation (default 2000)")
    parser.add_argument("--respx-calls", type=int, default=RESPX_CALLS)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)

    began = time.perf_counter()
    served = asyncio.run(bench_e2b(args.requests)) + asyncio.run(bench_github(args.requests))
    mocked = asyncio.run(respx_cost(args.respx_calls))

    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    lines = [
        f"fake servers on loopback: {CONCURRENCY} concurrent keep-alive connections, "
        f"{os.cpu_count()} CPUs, load average {load} (1, 5, 15 min)",
        f"{'fake':<7} {'operation':<40} {'requests':>8} {'req/s':>7} {'failed':>6} {'server CPU/req':>15}",
    ]
    for r in served:
        cpu = f"{r.cpu_us_per_request:>12.0f} µs" if r.cpu_us_per_request is not None else f"{'-':>15}"
        lines.append(f"{r.fake:<7} {r.operation:<40} {r.requests:>8} {r.per_second:>7.0f} {r.failures:>6} {cpu}")
    lines += ["", f"respx-mocked calls in-process (mean of {args.respx_calls}):", f"  {'':<46} {'wall':>8} {'CPU':>8}"]
    lines += [f"  {name:<46} {wall:>5.0f} µs {cpu:>5.0f} µs" for name, wall, cpu in mocked]
    lines += ["", f"(total {time.perf_counter() - began:.1f} s)"]
    sys.stdout.write("\n".join(lines) + "\n")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "servers": [
                        {
                            **asdict(result),
                            "per_second": round(result.per_second, 1),
                            "server_cpu_us_per_request": result.cpu_us_per_request,
                        }
                        for result in served
                    ],
                    "respx_microseconds": {name: {"wall": wall, "cpu": cpu} for name, wall, cpu in mocked},
                    "load_average": os.getloadavg(),
                },
                indent=1,
            )
        )
    return 1 if any(result.failures for result in served) else 0


if __name__ == "__main__":
    sys.exit(main())
