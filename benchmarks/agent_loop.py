"""Benchmark of the agent loop in process: a scripted ten-tool-call loop through the real pipeline.

`python -m benchmarks.agent_loop [--runs N]`: each run is one task's TaskRun (sandbox, clone, branch,
the agent's loop, commit, push, pull request) with the fakes answering through respx, as in the
backend suite's in-process tests: E2B's sandbox runs real processes, git is real (the fake GitHub
serves it from a thread on loopback), the fake LLM answers the scripted turns at full speed. The
script is ten turns of one tool call each: three rounds of write_file, run_command, read_file, then
finish. Prints the median and p95 of the work step (the loop alone: ten LLM turns, ten tool calls,
their events stored) and of the whole run, and the machine's load average.

The target: the loop under 0.5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from app.models import Agent, Squad, Task, TaskStatus, new_id
from app.pipeline import TaskRun
from app.runtime import Runtime, migrate
from app.settings import Settings
from mocks.common.server import serve_in_thread
from mocks.e2b.router import E2B_API_URL, E2B_SANDBOX_URL, e2b_router
from mocks.e2b.state import FakeE2B
from mocks.github.app import build_app as build_github_app
from mocks.github.router import GITHUB_API_URL, github_router
from mocks.github.state import FakeGitHub
from mocks.llm import Turn
from mocks.llm.router import LLM_API_URL, llm_router
from mocks.llm.state import FakeLLM

E2B_KEY = "e2b_" + "b" * 40
GITHUB_TOKEN = "ghp_benchmark_token_0000000000000000000"
LLM_KEY = "sk-benchmark-key-0000000000000000000000"
TARGET_S = 0.5


def ten_tool_calls() -> list[Turn]:
    turns: list[Turn] = []
    for round_ in range(3):
        path = f"module_{round_}.py"
        turns += [
            Turn.call("write_file", path=path, content=f"VALUE = {round_}\nprint(VALUE)\n"),
            Turn.call("run_command", command=f"python3 -B {path}"),
            Turn.call("read_file", path=path),
        ]
    return [*turns, Turn.finish_with("Three modules written, each run and read back.")]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def one_run(runtime: Runtime, fake_llm: FakeLLM, squad_id: str, agent_id: str) -> tuple[float, float]:
    """(seconds of the work step, seconds of the whole run) of one task."""
    async with runtime.sessionmaker() as session:
        task = Task(squad_id=squad_id, title="Benchmark task", agent_id=agent_id, status=TaskStatus.IN_PROGRESS)
        session.add(task)
        await session.commit()
        task_id = task.id
    fake_llm.script(task_id, ten_tool_calls())
    work = runtime.metrics.step_seconds.labels("work")
    before = _sum(work)
    started = time.perf_counter()
    await TaskRun(runtime.pipeline.services, task_id).run()
    total = time.perf_counter() - started
    async with runtime.sessionmaker() as session:
        stored = await session.get(Task, task_id)
        assert stored is not None and stored.status == TaskStatus.REVIEW, stored and stored.error
    return _sum(work) - before, total


def _sum(histogram) -> float:
    return next(sample.value for sample in histogram.collect()[0].samples if sample.name.endswith("_sum"))


async def benchmark(runs: int, database_dir: Path) -> tuple[list[float], list[float]]:
    database_url = f"sqlite+aiosqlite:///{database_dir / 'bench.db'}"
    await asyncio.to_thread(migrate, database_url)
    fake_e2b, fake_github, fake_llm = FakeE2B(api_keys=[E2B_KEY]), FakeGitHub(tokens=[GITHUB_TOKEN]), FakeLLM([LLM_KEY])
    git_server = serve_in_thread(build_github_app(fake_github))
    fake_github.git_base_url = git_server.url
    settings = Settings(
        database_url=database_url,
        squad_auto_migrate=False,
        squad_run_worker=False,
        e2b_api_url=E2B_API_URL,
        e2b_sandbox_url=E2B_SANDBOX_URL,
        e2b_api_key=E2B_KEY,
        github_api_url=GITHUB_API_URL,
        github_token=GITHUB_TOKEN,
        llm_api_url=LLM_API_URL,
        llm_api_key=LLM_KEY,
    )
    try:
        with e2b_router(fake_e2b), github_router(fake_github), llm_router(fake_llm):
            async with Runtime(settings) as runtime:
                fake_github.create_repo("bench", "widgets")
                async with runtime.sessionmaker() as session:
                    squad = Squad(name="Bench", repository="bench/widgets", token_hash=new_id() + new_id())
                    session.add(squad)
                    await session.flush()
                    agent = Agent(squad_id=squad.id, name="bench-bot")
                    session.add(agent)
                    await session.commit()
                await one_run(runtime, fake_llm, squad.id, agent.id)  # warm-up: imports, first connections
                loops, totals = [], []
                for _ in range(runs):
                    loop_s, total_s = await one_run(runtime, fake_llm, squad.id, agent.id)
                    loops.append(loop_s)
                    totals.append(total_s)
                return loops, totals
    finally:
        git_server.stop()
        fake_github.close()
        fake_e2b.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.agent_loop", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="measured runs, after one warm-up (default 20)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-agent-") as scratch:
        loops, totals = asyncio.run(benchmark(args.runs, Path(scratch)))
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"agent loop, 10 tool calls in 10 LLM turns, {args.runs} runs (load average {load}, {os.cpu_count()} CPUs)")
    for name, values in (("work step (the loop)", loops), ("whole pipeline run", totals)):
        print(
            f"  {name:<22} median {statistics.median(values) * 1000:7.1f} ms   "
            f"p95 {percentile(values, 0.95) * 1000:7.1f} ms   max {max(values) * 1000:7.1f} ms"
        )
    verdict = "meets" if statistics.median(loops) < TARGET_S else "misses"
    print(f"  the loop's median {verdict} the {TARGET_S * 1000:.0f} ms target")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
