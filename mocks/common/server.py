"""Serving a fake over real HTTP on loopback: in a thread for tests, or as `python -m mocks.<service>`."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

from mocks.common.abortable_http import AbortableH11Protocol

LOOPBACK = "127.0.0.1"


def bind_socket(host: str = LOOPBACK, port: int = 0) -> socket.socket:
    """A listening socket; binding before uvicorn starts means the URL (even of port 0) is known at once."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: without it, a response written in two pieces (h11 sends the
    # head and the body separately) meets the client's delayed ACK and waits ~40 ms (Nagle).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def uvicorn_config(app: ASGIApp, http: type[asyncio.Protocol] | None = None) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        http=http or AbortableH11Protocol,  # the fakes': lets "reset" faults really drop the connection
        # asyncio's own loop even where uvloop is installed (the platform's server uses it): the fakes'
        # subprocesses (git http-backend) rely on asyncio's pipes, where writing a request body to a
        # process that already exited is ignored; uvloop raises instead.
        loop="asyncio",
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,  # a command stream still running must not hold the shutdown
    )


@dataclass
class ServerHandle:
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def stop(self, timeout: float = 10.0) -> None:
        """Stop at once: a server in a thread stops when its tests are over, with nothing left worth
        waiting for, and uvicorn's graceful shutdown polls its open connections every 0.1 s (a git
        client's or a test's keep-alive connection held the fake GitHub's for up to a second)."""
        self.server.force_exit = True
        self.server.should_exit = True
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise RuntimeError(f"the server at {self.url} did not stop within {timeout}s")


def serve_in_thread(
    app: ASGIApp,
    host: str = LOOPBACK,
    port: int = 0,
    *,
    startup_timeout: float = 10.0,
    http: type[asyncio.Protocol] | None = None,
) -> ServerHandle:
    """Run `app` with uvicorn in a daemon thread; returns once uvicorn reports `started`. `http` is
    uvicorn's HTTP protocol class, the fakes' own by default."""
    sock = bind_socket(host, port)
    url = f"http://{host}:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn_config(app, http))
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as error:  # reported to the caller below
            failure.append(error)
        finally:
            sock.close()

    thread = threading.Thread(target=run, name=f"fake-server {url}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if failure or not thread.is_alive():
            raise RuntimeError(f"the server at {url} failed to start") from (failure[0] if failure else None)
        if time.monotonic() > deadline:
            server.should_exit = True
            raise TimeoutError(f"the server at {url} did not start within {startup_timeout}s")
        time.sleep(0.005)  # polling the started flag with a deadline
    return ServerHandle(url, server, thread)


def parse_args(argv: Sequence[str] | None, service: str, default_port: int) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"python -m mocks.{service.lower()}", description=f"fake {service}")
    parser.add_argument("--host", default=LOOPBACK)
    parser.add_argument("--port", type=int, default=default_port)
    return parser.parse_args(argv)


def main(
    service: str,
    build_app: Callable[[str], ASGIApp],
    argv: Sequence[str] | None = None,
    *,
    default_port: int,
) -> None:
    """Entry point of `python -m mocks.<service>`: `build_app(url)` gets the URL the server listens on."""
    args = parse_args(argv, service, default_port)
    # SIGTERM (the stack launcher's stop) must end in a normal exit so the fake can delete its temp dirs:
    # uvicorn re-raises the signal after its graceful shutdown, to whatever handler was there before it.
    signal.signal(signal.SIGTERM, _exit_normally)
    sock = bind_socket(args.host, args.port)
    url = f"http://{args.host}:{sock.getsockname()[1]}"
    app = build_app(url)
    sys.stdout.write(f"fake {service} listening on {url}\n")  # the stack launcher waits for this line
    sys.stdout.flush()
    try:
        uvicorn.Server(uvicorn_config(app)).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()


def keys_from_environment(variable: str, default: str) -> list[str]:
    """The keys (or tokens) a fake accepts, from a comma-separated environment variable: `default` when it is unset."""
    return [key.strip() for key in os.environ.get(variable, default).split(",") if key.strip()]


def number_from_environment(variable: str, default: int = 0) -> int:
    """A whole number from an environment variable (milliseconds, a quota): `default` when it is unset or empty."""
    return int(os.environ.get(variable) or default)


def _exit_normally(signum: int, frame: object) -> None:
    raise SystemExit(0)
