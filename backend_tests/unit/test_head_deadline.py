"""The deadline on a request's head, on both of uvicorn's HTTP protocols the platform may serve with
(app/server.py): httptools where installed, h11 otherwise. A head not sent in time gets a 408 and the
connection is closed; a head sent in time, on a kept-alive connection too, is answered as usual."""

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from app.server import HeaderDeadlineH11Protocol, HeaderDeadlineHttpToolsProtocol
from mocks.common.server import serve_in_thread

pytestmark = [pytest.mark.unit, pytest.mark.priority_p1]

DEADLINE_S = 0.3
PROTOCOLS = [
    pytest.param(HeaderDeadlineH11Protocol, id="h11"),
    pytest.param(HeaderDeadlineHttpToolsProtocol, id="httptools"),
]


async def hello(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


@contextmanager
def serving(protocol: type) -> Iterator[tuple[str, int]]:
    quick = type("QuickDeadline", (protocol,), {"header_timeout_s": DEADLINE_S})
    server = serve_in_thread(hello, http=quick)
    try:
        yield ("127.0.0.1", server.port)
    finally:
        server.stop()


def one_response(conn: socket.socket) -> bytes:
    """One answer of `hello`, whole: its head and its two-byte body may come in separate pieces."""
    received = b""
    while not received.endswith(b"\r\n\r\nok"):
        chunk = conn.recv(65536)
        assert chunk, f"the connection closed after {received!r}"
        received += chunk
    return received


def received_until_closed(conn: socket.socket, deadline_s: float = 5.0) -> bytes:
    conn.settimeout(deadline_s)
    received = b""
    while chunk := conn.recv(65536):
        received += chunk
    return received


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_head_not_sent_in_time_is_answered_408_and_the_connection_closed(protocol: type) -> None:
    with serving(protocol) as address, socket.create_connection(address, timeout=5) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: squad.test\r\n")  # no blank line: the head never ends

        answer = received_until_closed(conn)

    assert answer.startswith(b"HTTP/1.1 408 Request Timeout"), answer


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_heads_sent_in_time_are_answered_on_a_kept_alive_connection_until_one_is_late(protocol: type) -> None:
    request = b"GET / HTTP/1.1\r\nHost: squad.test\r\n\r\n"
    with serving(protocol) as address, socket.create_connection(address, timeout=5) as conn:
        conn.sendall(request)
        first = one_response(conn)
        conn.sendall(request)
        second = one_response(conn)

        conn.sendall(b"GET / HTTP/1.1\r\n")  # the third head starts and never ends
        late = received_until_closed(conn)

    assert first.startswith(b"HTTP/1.1 200") and second.startswith(b"HTTP/1.1 200"), (first, second)
    assert late.startswith(b"HTTP/1.1 408"), late


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_kept_alive_connection_idle_past_the_deadline_gets_no_408_and_answers_its_next_request(
    protocol: type,
) -> None:
    """Idle between requests is the keep-alive timeout's business (a proxy keeps connections to the
    platform open for longer than the head deadline): a 408 written there would be read as the
    answer to the request the client sends next."""
    request = b"GET / HTTP/1.1\r\nHost: squad.test\r\n\r\n"
    with serving(protocol) as address, socket.create_connection(address, timeout=5) as conn:
        conn.sendall(request)
        first = one_response(conn)
        conn.settimeout(DEADLINE_S * 3)
        with pytest.raises(TimeoutError):  # nothing arrives while the connection is idle, a 408 least of all
            conn.recv(65536)
        conn.settimeout(5)
        conn.sendall(request)
        second = one_response(conn)

    assert first.startswith(b"HTTP/1.1 200"), first
    assert second.startswith(b"HTTP/1.1 200"), second
