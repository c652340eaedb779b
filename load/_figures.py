"""Figures a user measures in its own process, for the scenario's report on the master.

Some things a run must show are not request times: how many sandbox creations were in flight at
once, how long a burst of calls took from its first to its last. Users `publish` them; the master
(or the only process) keeps them, and the scenario reads them with `received`. From a worker they
travel as a Locust custom message, so `--processes` and `--master`/`--worker` report them too.
"""

from collections import defaultdict
from typing import Any

from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

MESSAGE = "load-figures"

_received: dict[str, list[dict[str, Any]]] = defaultdict(list)


def publish(environment: Environment, kind: str, figures: dict[str, Any]) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.send_message(MESSAGE, {"kind": kind, "figures": figures})
    else:
        _received[kind].append(figures)


def received(kind: str) -> list[dict[str, Any]]:
    """What every process published under `kind` so far (on the master or the only process)."""
    return list(_received[kind])


@events.init.add_listener
def listen_for_figures(environment: Environment, **_kwargs: object) -> None:
    if isinstance(environment.runner, MasterRunner):
        environment.runner.register_message(MESSAGE, _keep)


def _keep(msg: Any, **_kwargs: object) -> None:
    # Locust calls a message listener with keywords: environment= and msg=.
    _received[msg.data["kind"]].append(msg.data["figures"])
