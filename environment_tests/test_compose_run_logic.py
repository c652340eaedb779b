"""The decisions of `make test-compose` that need no engine: which base image is kept, pulled or built
as a stand-in (tools/base_images.py), and when a container counts as ready or failed
(tools/compose_run.py). The engine's side of both runs in `make test-compose` itself."""

import pytest

from tools import base_images, compose_run

pytestmark = [pytest.mark.unit, pytest.mark.priority_p1]


@pytest.fixture
def engine(monkeypatch):
    """A stand-in engine: which images it has (name -> labels), and what ensure() asked of it."""
    state = {"images": {}, "pull_works": True, "calls": []}

    def labels(_engine, name):
        return state["images"].get(name)

    def pull(_engine, name):
        state["calls"].append(("pull", name))
        return None if state["pull_works"] else "no registry answers"

    def build(_engine, name, log=print):
        state["calls"].append(("build", name))

    monkeypatch.setattr(base_images, "image_labels", labels)
    monkeypatch.setattr(base_images, "pull", pull)
    monkeypatch.setattr(base_images, "build_standin", build)
    return state


def test_an_image_already_there_is_kept_whatever_it_is(engine):
    engine["images"] = {"postgres:15": {}, "nginx:1.28": {base_images.STANDIN_LABEL: "nginx:1.28"}}
    outcome = base_images.ensure("docker", ["postgres:15", "nginx:1.28"], "auto", log=lambda line: None)
    assert outcome == {"postgres:15": "cached", "nginx:1.28": "cached stand-in"}
    assert engine["calls"] == []


def test_without_a_registry_auto_builds_the_stand_in(engine):
    engine["pull_works"] = False
    outcome = base_images.ensure("docker", ["postgres:15"], "auto", log=lambda line: None)
    assert outcome == {"postgres:15": "stand-in built"}
    assert engine["calls"] == [("pull", "postgres:15"), ("build", "postgres:15")]


def test_official_replaces_a_stand_in_and_fails_naming_the_fix_without_a_registry(engine):
    engine["images"] = {"postgres:15": {base_images.STANDIN_LABEL: "postgres:15"}}
    assert base_images.ensure("docker", ["postgres:15"], "official", log=lambda line: None) == {"postgres:15": "pulled"}
    engine["pull_works"] = False
    with pytest.raises(base_images.BaseImageError, match="--base-images standin"):
        base_images.ensure("docker", ["postgres:15"], "official", log=lambda line: None)
    assert ("build", "postgres:15") not in engine["calls"]


def test_every_base_image_the_files_name_has_a_stand_in_recipe(repo_root):
    named = set()
    for path in ("Dockerfile", "docker-compose.test.yml", "docker-compose.deploy.yml"):
        for line in (repo_root / path).read_text().splitlines():
            words = line.split()
            if words[:1] == ["FROM"] and words[1] != "base":  # `FROM base`: the Dockerfile's own stage
                named.add(words[1])
            elif words[:1] == ["image:"] and not words[1].startswith(("agent-squad-tests", "${")):
                named.add(words[1])
    assert named == set(base_images.IMAGES), f"named {sorted(named)}, recipes for {sorted(base_images.IMAGES)}"


@pytest.mark.parametrize(
    ("service", "state", "expected"),
    [
        ("app", None, "waiting"),
        ("app", {"Status": "running", "Health": {"Status": "starting"}}, "waiting"),
        ("app", {"Status": "running", "Health": {"Status": "healthy"}}, "ready"),
        ("app", {"Status": "running", "Health": {"Status": "unhealthy"}}, "failed"),
        ("app", {"Status": "exited", "ExitCode": 1}, "failed"),
        ("migrate", {"Status": "running"}, "waiting"),
        ("migrate", {"Status": "exited", "ExitCode": 0}, "ready"),
        ("migrate", {"Status": "exited", "ExitCode": 1}, "failed"),
    ],
)
def test_readiness_of_a_container(service, state, expected):
    assert compose_run.readiness(state, service).startswith(expected)
