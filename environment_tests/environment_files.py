"""Readers of the environment files for the tests: where they are, a compose service's ports,
environment and commands, the Dockerfile's stages with what each copies into its image, and the
matrix rows of a workflow job."""

import fnmatch
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ruamel.yaml import YAML

REPO_ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO_ROOT / "docker-compose.test.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
WORKFLOWS_DIR = REPO_ROOT / ".github" / "workflows"
WORKFLOW_FILE = WORKFLOWS_DIR / "ci.yml"
PUBLISHER_FILE = WORKFLOWS_DIR / "test-results.yml"
MAKEFILES = [REPO_ROOT / "Makefile", *sorted((REPO_ROOT / "make").glob("*.mk"))]
# A rule line: `name:` or `a b: deps`, but not a `VAR := value` assignment.
MAKE_RULE = re.compile(r"^([A-Za-z0-9_.-]+(?:[ \t]+[A-Za-z0-9_.-]+)*)[ \t]*::?(?!=)", re.MULTILINE)
# What the environment tests start the native stack with: enough to run Python, nothing that
# configures the stack, so every other variable its processes get is the launcher's own doing.
BARE_ENVIRONMENT = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


def load_yaml(path: Path) -> dict[str, Any]:
    # YAML 1.2 (ruamel), as Compose and GitHub read it: a key `on` stays the string "on".
    return YAML(typ="safe", pure=True).load(path.read_text())


# `${NAME:-default}` or `${NAME-default}`: Compose's interpolation with a default.
INTERPOLATION = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}")


def with_defaults(value: str) -> str:
    """A compose value as Compose reads it when none of its variables is set."""
    return INTERPOLATION.sub(lambda found: found.group(1), value)


def published_ports(service: dict[str, Any]) -> list[tuple[str | None, int, int]]:
    """(host ip, host port, container port) of every published port, short or long syntax, with
    each `${NAME:-default}` read as its default."""
    published = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            published.append((port.get("host_ip"), int(port["published"]), int(port["target"])))
            continue
        parts = with_defaults(str(port)).split("/")[0].rsplit(":", 2)
        if len(parts) == 3:
            published.append((parts[0], int(parts[1]), int(parts[2])))
        elif len(parts) == 2:
            published.append((None, int(parts[0]), int(parts[1])))
        else:
            published.append((None, int(parts[0]), int(parts[0])))
    return published


def environment(service: dict[str, Any]) -> dict[str, str]:
    variables = service.get("environment", {})
    if isinstance(variables, list):  # the `- NAME=value` form
        variables = dict(item.split("=", 1) if "=" in item else (item, "") for item in variables)
    return {name: str(value) for name, value in variables.items()}


def command_text(service: dict[str, Any]) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else str(command)


def listening_port(service: dict[str, Any]) -> int:
    found = re.search(r"--port[ =](\d+)", command_text(service))
    assert found, f"no --port in the command {command_text(service)!r}"
    return int(found.group(1))


def healthcheck_url(service: dict[str, Any]) -> tuple[str, int, str]:
    """(host, port, path) of the URL a healthcheck probes."""
    test = service["healthcheck"]["test"]
    found = re.search(r"https?://[^'\"\s]+", " ".join(test) if isinstance(test, list) else test)
    assert found, f"the healthcheck {test!r} probes no URL"
    url = urlsplit(found.group(0))
    return url.hostname or "", url.port or 80, url.path


def url_target(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def commands(service: dict[str, Any]) -> list[list[str]]:
    """Every program invocation a service runs: its command (split at `sh -c` sequences) and its
    healthcheck's, each as an argument list."""
    found = []
    for run in (service.get("command"), (service.get("healthcheck") or {}).get("test")):
        if not run:
            continue
        argv = list(run) if isinstance(run, list) else shlex.split(run)
        if argv[0] in ("CMD", "CMD-SHELL"):
            argv = argv[1:] if argv[0] == "CMD" else ["sh", "-c", " ".join(argv[1:])]
        if argv[:2] == ["sh", "-c"]:
            # `$$` is Compose's escape for a literal `$`; the shell then expands the variable.
            script = argv[2].replace("$$", "$")
            for part in re.split(r"&&|\|\||;", script):
                words = shlex.split(part)
                found.append(words[1:] if words[:1] == ["exec"] else words)
        else:
            found.append(argv)
    return [argv for argv in found if argv]


@dataclass
class Stage:
    name: str
    base: str
    copied: list[str] = field(default_factory=list)  # sources of COPY, relative to the context
    run: list[str] = field(default_factory=list)
    user: str | None = None


def dockerfile_stages(path: Path) -> dict[str, Stage]:
    """The stages of a Dockerfile, in order, by name (or index), with line continuations joined."""
    text = re.sub(r"\\\n", " ", path.read_text())
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            words = rest.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else str(len(stages))
            base = words[0]
            current = Stage(name, base)
            if base in stages:  # a stage built on an earlier one inherits what that one copied
                current.copied = list(stages[base].copied)
                current.user = stages[base].user
            stages[name] = current
        elif current is None:
            continue
        elif instruction == "COPY" and "--from" not in rest:
            current.copied += [word.rstrip("/") for word in shlex.split(rest)[:-1] if not word.startswith("--")]
        elif instruction == "RUN":
            current.run.append(rest)
        elif instruction == "USER":
            current.user = rest.strip()
    return stages


def dockerignore_patterns(path: Path) -> list[str]:
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def ignored_by_docker(relative: str, patterns: list[str]) -> bool:
    """Whether .dockerignore keeps `relative` (or a folder above it) out of the build context."""
    parts = Path(relative).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        if any(fnmatch.fnmatch(candidate, pattern) for candidate in candidates):
            ignored = not negated
    return ignored


def workflow_files() -> list[Path]:
    return sorted([*WORKFLOWS_DIR.glob("*.yml"), *WORKFLOWS_DIR.glob("*.yaml")])


def matrix_rows(job: dict[str, Any]) -> list[dict[str, Any]]:
    """The `include` rows of a job's matrix, or one empty row for a job without one."""
    return (job.get("strategy") or {}).get("matrix", {}).get("include") or [{}]


def fill_matrix(text: str, row: dict[str, Any]) -> str:
    """`text` with each `${{ matrix.NAME }}` replaced by the row's value."""
    return re.sub(r"\$\{\{\s*matrix\.([\w-]+)\s*\}\}", lambda found: str(row.get(found.group(1), "")), text)
