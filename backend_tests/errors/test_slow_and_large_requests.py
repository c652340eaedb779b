"""Slow and oversized requests, over raw sockets against a real server (`python -m app` on the limited
stack: REQUEST_HEADER_TIMEOUT_S and REQUEST_BODY_TIMEOUT_S of 1 s, bodies up to 64 KiB).

A client that sends its headers or its body a byte at a time, or nothing at all, must not hold a
connection (and a task of the server's) for ever: it is answered 408 and the connection closed. A
body over the limit is refused with 413 as soon as it is declared, or as soon as it passes the limit,
without waiting for the rest. The slow client's pace is the server's silence: the next byte goes as
soon as the server has said nothing for a tenth of a second (every wait here is for the server's
answer, under a deadline).
"""

import socket
import time
from urllib.parse import urlsplit

import pytest

from fixtures import http
from fixtures.limited_stack import LIMITS

pytestmark = [pytest.mark.errors, pytest.mark.priority_p1]

# The pace of a slow client: one byte whenever the server has been silent this long.
SILENCE_S = 0.1
# How long after its deadline the server may take to act on it (a loaded machine).
GRACE_S = 3.0


def connect(base_url: str) -> socket.socket:
    parts = urlsplit(base_url)
    return socket.create_connection((parts.hostname, parts.port), timeout=5)


def read_until_closed(sock: socket.socket, deadline_s: float) -> bytes:
    """Everything the server sends until it closes the connection; fails if it is still open at the deadline."""
    received = b""
    ends = time.monotonic() + deadline_s
    while True:
        sock.settimeout(max(0.01, ends - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            raise AssertionError(
                f"the server still held the connection {deadline_s:g} s later; it had sent {received[:200]!r}"
            ) from None
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk


def trickle(sock: socket.socket, payload: bytes, deadline_s: float) -> tuple[bytes, int, float]:
    """Send `payload` a byte at a time, each after SILENCE_S of the server saying nothing, until the
    server answers or closes. Returns what it said, how many bytes went, and the seconds it took."""
    started = time.monotonic()
    sent = 0
    for byte in payload:
        sock.settimeout(SILENCE_S)
        try:
            said = sock.recv(65536)
        except TimeoutError:
            said = None  # silence: the slow client goes on
        if said is not None:
            return said + read_until_closed(sock, GRACE_S), sent, time.monotonic() - started
        if time.monotonic() - started > deadline_s:
            raise AssertionError(f"the server let a client trickle {sent} bytes over {deadline_s:g} s")
        try:
            sock.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += 1
    return read_until_closed(sock, GRACE_S), sent, time.monotonic() - started


def read_response(sock: socket.socket, deadline_s: float = 5.0) -> bytes:
    """One whole response (head and Content-Length body), leaving the connection open."""
    sock.settimeout(deadline_s)
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    head_part, _, body = received.partition(b"\r\n\r\n")
    length = int(
        next(line.split(b":")[1] for line in head_part.split(b"\r\n") if line.lower().startswith(b"content-length"))
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head_part + b"\r\n\r\n" + body


def status_of(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), f"not an HTTP answer: {answer[:200]!r}"
    return int(answer.split(b" ", 2)[1])


def head(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# A request head long enough that trickling it takes far longer than the deadline.
PADDED_HEAD = head("GET /health HTTP/1.1", "Host: squad.test", *[f"X-Padding-{n}: {'x' * 40}" for n in range(20)])


def test_headers_sent_a_byte_at_a_time_get_408_and_the_connection_closed_at_the_deadline(limited_stack):
    with connect(limited_stack.base_url) as sock:
        answer, sent, took = trickle(sock, PADDED_HEAD, deadline_s=LIMITS.header_timeout_s + GRACE_S)

    assert status_of(answer) == 408, answer
    assert sent < len(PADDED_HEAD), "the whole head went through: no deadline cut it off"
    assert took < LIMITS.header_timeout_s + GRACE_S


def test_a_request_head_over_16_kib_is_refused_with_431_and_the_connection_closed(limited_stack):
    too_large = head("GET /health HTTP/1.1", "Host: squad.test", *[f"X-Padding-{n}: {'x' * 1000}" for n in range(20)])
    with connect(limited_stack.base_url) as sock:
        try:
            sock.sendall(too_large)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused while the rest was still on its way: the answer is already in the socket
        answer = read_until_closed(sock, GRACE_S)

    assert status_of(answer) == 431, answer


def test_a_connection_that_never_sends_a_request_is_closed_at_the_header_deadline(limited_stack):
    with connect(limited_stack.base_url) as sock:
        started = time.monotonic()
        answer = read_until_closed(sock, LIMITS.header_timeout_s + GRACE_S)

    assert status_of(answer) == 408, answer
    assert time.monotonic() - started >= LIMITS.header_timeout_s * 0.9


def test_a_keep_alive_connection_gets_the_same_header_deadline_for_its_next_request(limited_stack):
    with connect(limited_stack.base_url) as sock:
        sock.sendall(head("GET /health HTTP/1.1", "Host: squad.test"))
        first = read_response(sock)
        answer, sent, _ = trickle(sock, PADDED_HEAD, deadline_s=LIMITS.header_timeout_s + GRACE_S)

    assert status_of(first) == 200, first
    assert status_of(answer) == 408 and sent < len(PADDED_HEAD), answer


def test_a_body_sent_a_byte_at_a_time_gets_408_and_no_task(limited_stack, limited_squads):
    squad = limited_squads()
    body = b'{"title": "slow", "description": "' + b"x" * 400 + b'"}'
    request = head(
        "POST /api/v1/tasks HTTP/1.1",
        "Host: squad.test",
        f"Authorization: Bearer {squad.token}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    )
    with connect(limited_stack.base_url) as sock:
        sock.sendall(request)
        answer, sent, took = trickle(sock, body, deadline_s=LIMITS.body_timeout_s + GRACE_S)

    assert status_of(answer) == 408, answer
    assert b"did not arrive within" in answer
    assert sent < len(body) and took < LIMITS.body_timeout_s + GRACE_S
    assert squad.client.list_tasks() == []


def test_a_declared_body_over_the_limit_is_refused_at_once_unread(limited_stack):
    # No body follows the head: a server that waited to read it would hit the body deadline (408) instead.
    request = head(
        "POST /api/v1/squads HTTP/1.1",
        "Host: squad.test",
        "Content-Type: application/json",
        f"Content-Length: {LIMITS.max_body_bytes + 1}",
    )
    with connect(limited_stack.base_url) as sock:
        sock.sendall(request)
        answer = read_until_closed(sock, LIMITS.body_timeout_s + GRACE_S)

    assert status_of(answer) == 413, answer
    assert b"REQUEST_MAX_BODY_BYTES" in answer and b"connection: close" in answer.lower()


def test_a_chunked_body_is_cut_off_as_soon_as_it_passes_the_limit(limited_stack):
    chunk = b"x" * 8192
    request = head(
        "POST /api/v1/tasks HTTP/1.1",
        "Host: squad.test",
        "Content-Type: application/json",
        "Transfer-Encoding: chunked",
    )
    with connect(limited_stack.base_url) as sock:
        sock.sendall(request)
        sent = 0
        answer = b""
        # Never the last chunk: the body has no end, so only the limit can end the request.
        while sent < 50 * LIMITS.max_body_bytes:
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
            # The next chunk goes once the server has said nothing for a moment: a client faster than
            # the server reads would only fill the sockets' buffers.
            sock.settimeout(SILENCE_S / 5)
            try:
                answer = sock.recv(65536)
            except TimeoutError:
                continue
            break
        answer += read_until_closed(sock, GRACE_S)

    assert status_of(answer) == 413, answer
    assert sent < 50 * LIMITS.max_body_bytes, "the server read a body fifty times over the limit"


def test_the_server_answers_others_while_slow_clients_hang_and_then_drops_every_slow_one(limited_stack):
    slow = [connect(limited_stack.base_url) for _ in range(30)]
    try:
        for sock in slow:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: squad.test\r\nX-Never: ")

        started = time.monotonic()
        answered = http.get(f"{limited_stack.base_url}/health", timeout=5)
        quick_s = time.monotonic() - started

        answers = [read_until_closed(sock, LIMITS.header_timeout_s + GRACE_S) for sock in slow]
    finally:
        for sock in slow:
            sock.close()

    assert answered.status_code == 200 and quick_s < 2.0, f"/health took {quick_s:.2f} s beside 30 slow clients"
    assert [status_of(answer) for answer in answers] == [408] * 30
