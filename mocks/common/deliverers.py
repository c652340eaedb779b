"""Deliverers: they send a fake's own requests (mocks.common.outbound) with httpx and report what came back.

- `ThreadedDeliverer` (what a fake's server uses): a worker thread sends them one after another, in the
  order they were made, so the request that caused one is answered at once.
- `InlineDeliverer`: sends in the caller's thread before `submit` returns, for a test that wants the
  answer before it goes on. Not from a thread whose event loop the receiver needs (that would wait forever).
- `LoopDeliverer`: sends with an httpx.AsyncClient on a given event loop. In process, with respx routing the
  hook's URL to an ASGI app on the test's loop, this is the one that lets the app answer.

All of them send through httpx, so an active respx router sees the deliveries (and refuses those it has no
route for, when it asserts all requests mocked: a failed delivery then).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import queue
import ssl
import threading
import time

import httpx

from mocks.common.outbound import Done, Outcome, OutgoingRequest

# Kept of an answer's body, as the delivery's record of it.
MAX_RESPONSE_BODY = 64 * 1024


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One context for every delivery: building one loads the CA bundle, some 20 ms of CPU each time."""
    return httpx.create_ssl_context()


def verify(request: OutgoingRequest) -> ssl.SSLContext | bool:
    return tls_context() if request.verify_tls else False


def outcome_of(response: httpx.Response, started: float) -> Outcome:
    return Outcome(
        duration=time.monotonic() - started,
        status_code=response.status_code,
        headers=dict(response.headers),
        body=response.content[:MAX_RESPONSE_BODY].decode(errors="replace"),
    )


def failure_of(error: BaseException, started: float) -> Outcome:
    if isinstance(error, httpx.TimeoutException):
        kind = "timeout"
    elif isinstance(error, httpx.ConnectError):
        kind = "connect"
    else:
        kind = "error"
    return Outcome(duration=time.monotonic() - started, failure=kind, body=f"{type(error).__name__}: {error}")


def send(request: OutgoingRequest) -> Outcome:
    """POST `request` and wait for the answer (or the failure)."""
    started = time.monotonic()
    try:
        with httpx.Client(timeout=request.timeout, verify=verify(request), trust_env=False) as client:
            response = client.post(request.url, content=request.body, headers=request.headers)
    except Exception as error:  # whatever keeps the answer from coming is what the delivery records
        return failure_of(error, started)
    return outcome_of(response, started)


async def send_async(request: OutgoingRequest) -> Outcome:
    started = time.monotonic()
    try:
        async with httpx.AsyncClient(timeout=request.timeout, verify=verify(request), trust_env=False) as client:
            response = await client.post(request.url, content=request.body, headers=request.headers)
    except Exception as error:  # as in send()
        return failure_of(error, started)
    return outcome_of(response, started)


class InlineDeliverer:
    def submit(self, request: OutgoingRequest, done: Done) -> None:
        done(send(request))

    def close(self) -> None:
        pass


class ThreadedDeliverer:
    """One daemon worker thread, started with the first delivery."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[OutgoingRequest, Done] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, request: OutgoingRequest, done: Done) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="fake-webhook-deliveries", daemon=True)
                self._thread.start()
        self._queue.put((request, done))

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            request, done = item
            done(send(request))

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=5)


class LoopDeliverer:
    """Sends on `loop` (e.g. the test's, `asyncio.get_running_loop()`), from whichever thread submits."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._tasks: set[concurrent.futures.Future[None]] = set()

    def submit(self, request: OutgoingRequest, done: Done) -> None:
        async def deliver() -> None:
            started = time.monotonic()
            try:
                outcome = await send_async(request)
            except asyncio.CancelledError:
                done(Outcome(duration=time.monotonic() - started, failure="error", body="delivery cancelled"))
                raise
            done(outcome)

        future = asyncio.run_coroutine_threadsafe(deliver(), self.loop)
        self._tasks.add(future)
        future.add_done_callback(self._tasks.discard)

    def close(self) -> None:
        for future in list(self._tasks):
            future.cancel()
