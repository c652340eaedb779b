"""The platform's processes: the web server, or a pipeline worker on its own.

`python -m app` (app/__main__.py) starts either; `python -m app.worker` (app/worker/__main__.py) is
the worker's older name. Both entry points call `main` here and nothing in the platform imports
them, so the composition root (app/runtime.py) imports the worker without the worker's process
code importing the composition root back.
"""

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence

from app import error_tracking, logs, server
from app.runtime import Runtime
from app.settings import get_settings

log = logging.getLogger(__name__)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app", description="Run the Agent Squad platform.")
    parser.add_argument("--host", default="127.0.0.1", help="the server's address (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8000, help="the server's port (default: %(default)s)")
    commands = parser.add_subparsers(dest="command", title="commands")
    commands.add_parser(
        "worker",
        help="run a pipeline worker instead of the server",
        description="Run a pipeline worker: it takes queued jobs until SIGTERM or SIGINT. Its settings come"
        " from the environment, as the server's do.",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.command == "worker":
        work()
    else:
        serve(args.host, args.port)


def serve(host: str, port: int) -> None:
    """The API, the event stream and the board; the in-app worker too unless SQUAD_RUN_WORKER=false;
    uvicorn with the platform's connection limits (app/server.py)."""
    server.serve(host, port, get_settings())


def work() -> None:
    """A worker process: runs jobs until SIGTERM or SIGINT, then hands the running ones back (app/worker)."""
    settings = get_settings()
    logs.configure(settings)
    error_tracking.start(settings)
    asyncio.run(_work_until_stopped())


async def _work_until_stopped() -> None:
    async with Runtime(get_settings()) as runtime:
        worker = runtime.worker()
        log.info("worker %s started, running up to %d jobs at once", worker.name, worker.concurrency)
        running = asyncio.create_task(worker.run_forever())
        loop = asyncio.get_running_loop()
        for stop_signal in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(stop_signal, running.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await running
        log.info("worker %s stopped", worker.name)
