"""What the web server's processes serve (app/server.py, app/serving.py): the platform's one app,
imported with the garbage collector tuned for many requests in flight, in one process or several."""

import subprocess
import sys

import pytest

from app import server
from app.serving import YOUNG_COLLECTION_ALLOCATIONS
from app.settings import Settings
from fixtures.stack import ROOT

pytestmark = [pytest.mark.unit, pytest.mark.priority_p1]

# The app module's import alone leaves more objects than this behind; frozen, they are all skipped.
SOME_FROZEN_OBJECTS = 10_000


def test_the_served_app_is_the_platform_with_its_start_up_objects_frozen_out_of_collections():
    # In a process of its own: freezing is for the server's processes, not this test's.
    probe = (
        "import gc, app.serving, app.main; "
        "print(app.serving.app is app.main.app, gc.get_threshold()[0], gc.get_freeze_count())"
    )
    completed = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)

    same_app, young_threshold, frozen = completed.stdout.split()
    assert same_app == "True"
    assert int(young_threshold) == YOUNG_COLLECTION_ALLOCATIONS
    assert int(frozen) > SOME_FROZEN_OBJECTS


def test_importing_the_app_alone_keeps_the_interpreters_collector():
    probe = (
        "import gc; before = gc.get_threshold(); import app.main; "
        "print(gc.get_threshold() == before, gc.get_freeze_count())"
    )
    completed = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)

    assert completed.stdout.split() == ["True", "0"]


@pytest.mark.parametrize("workers", [1, 2])
def test_uvicorn_serves_the_tuned_app_in_one_process_or_several(monkeypatch, workers):
    served = []
    monkeypatch.setattr(server.uvicorn, "run", lambda app, **options: served.append((app, options.get("workers"))))

    server.serve("127.0.0.1", 8000, Settings(server_workers=workers, squad_auto_migrate=False))

    assert served == [("app.serving:app", workers if workers > 1 else None)]
