"""Stream users: boards left open, each holding its squad's live event stream.

A squad's board is open in several browsers at once, so stream users come in teams sharing one
squad (`--sse-viewers-per-squad`, default 10, counted per Locust process). The first member of a
team creates the squad and keeps it busy: it adds a task every `--sse-event-interval-s` seconds
(default 2), and every member's stream must deliver the `task.created` event.

Each user reports, as request events of type SSE (load/_sse.py): `connect` (time to the response
headers), `first event` (from the request to the first event, on the first connection), and
`delivery` for every event stored after the stream opened (from the event's `created_at` to its
arrival). A stream the platform ends or breaks is a failure of `stream`; the user then reconnects
with Last-Event-ID, as EventSource does.
"""

import time

import _collector  # noqa: F401  (keeps the generator's own collection pauses out of the figures)
import _fakes  # noqa: F401  (registers the fakes' realistic latency for the run)
import _preflight  # noqa: F401  (registers the start-up check of the targets)
import _slo
import gevent
from _squad_user import SquadUser
from _sse import StreamFailure, open_stream, report, stopping, stored_at
from gevent.event import AsyncResult
from locust import constant, events, task
from locust.exception import StopUser

from fixtures.factories import task_data

VIEWERS_PER_SQUAD = 10
EVENT_INTERVAL_S = 2.0
# How long a member waits for its team's first member to create the squad.
SQUAD_SETUP_TIMEOUT_S = 60.0


@events.init_command_line_parser.add_listener
def add_stream_options(parser, **_kwargs: object) -> None:
    parser.add_argument(
        "--sse-viewers-per-squad",
        type=int,
        default=VIEWERS_PER_SQUAD,
        env_var="LOAD_SSE_VIEWERS_PER_SQUAD",
        help=f"stream users sharing one squad (default {VIEWERS_PER_SQUAD})",
    )
    parser.add_argument(
        "--sse-event-interval-s",
        type=float,
        default=EVENT_INTERVAL_S,
        env_var="LOAD_SSE_EVENT_INTERVAL_S",
        help=f"seconds between the tasks each team adds to its squad (default {EVENT_INTERVAL_S:g})",
    )


class _Teams:
    """The squads of this process's stream users: team n is users n*size .. n*size+size-1."""

    def __init__(self) -> None:
        self._joined = 0
        self._squads: dict[int, AsyncResult] = {}

    def join(self, user: "StreamUser", size: int) -> tuple[str, str, bool]:
        """(squad id, token, whether this user leads the team); the leader creates the squad."""
        team = self._joined // max(size, 1)
        self._joined += 1
        if team in self._squads:
            squad = self._squads[team].get(timeout=SQUAD_SETUP_TIMEOUT_S)
            if squad is None:
                raise StopUser()  # the leader could not create it, and said why
            return (*squad, False)
        result = AsyncResult()
        self._squads[team] = result
        try:
            user.create_own_squad(with_agent=False)
            # The first event of the squad: what a new stream replays first.
            user.expect("POST", "/api/v1/tasks", 201, json=task_data(), name="/api/v1/tasks")
        except BaseException:
            result.set(None)
            raise
        result.set((user.squad_id, user.token))
        return user.squad_id, user.token, True


_teams = _Teams()


class StreamUser(SquadUser):
    weight = 4
    # Only between a dropped stream and the next connection: the task itself holds the stream.
    wait_time = constant(1)

    def on_start(self) -> None:
        size = self.option("sse_viewers_per_squad", VIEWERS_PER_SQUAD)
        self.interval_s = self.option("sse_event_interval_s", EVENT_INTERVAL_S)
        squad_id, token, leads = _teams.join(self, size)
        self.use_squad(squad_id, token)
        self.last_event_id: int | None = None
        self.producer = gevent.spawn(self._add_tasks) if leads else None

    def on_stop(self) -> None:
        if self.producer is not None:
            self.producer.kill(block=False)

    def _add_tasks(self) -> None:
        while True:
            gevent.sleep(self.interval_s)  # the pace of the squad's activity, not a wait for a condition
            self.expect("POST", "/api/v1/tasks", 201, json=task_data(), name="/api/v1/tasks")

    @task
    def watch(self) -> None:
        first_connection = self.last_event_id is None
        opened_at = time.time()
        try:
            with open_stream(self.host, self.token, last_event_id=self.last_event_id) as stream:
                report(self.environment, _slo.SSE_CONNECT, stream.connect_ms)
                for event in stream.events():
                    if first_connection:
                        report(self.environment, _slo.SSE_FIRST_EVENT, (time.perf_counter() - stream.started) * 1000)
                        first_connection = False
                    stored = stored_at(event)
                    if stored >= opened_at:  # stored after we connected: a live event, not history
                        report(self.environment, _slo.SSE_DELIVERY, (time.time() - stored) * 1000)
                    self.last_event_id = event["id"]
        except StreamFailure as failure:
            if not stopping():
                report(self.environment, _slo.SSE_STREAM, 0, failure)
            return
        if not stopping():
            report(self.environment, _slo.SSE_STREAM, 0, StreamFailure("the platform ended the stream"))
