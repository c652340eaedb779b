"""The base images the Dockerfile and the compose files name: the official ones, or local stand-ins.

    python -m tools.base_images ensure [--source auto|official|standin] [--engine docker]
    python -m tools.base_images list

`ensure` makes each base image present in the engine's image store, under the very name the files
use, so that `docker compose build` and `up` find it there and never go to a registry for it:

- an image already present is kept (a warm run builds nothing; `--source official` replaces a
  stand-in it finds by pulling);
- `official` pulls it from the registry, and fails when that fails;
- `standin` builds it here from Debian's packages (mmdebstrap into a tarball, imported as an image),
  with the label `org.opencontainers.image.description=local stand-in for NAME built from Debian
  packages`, so `docker image inspect` says what it is;
- `auto` (the default) pulls, and builds the stand-in when the pull fails (no registry reachable).

The stand-ins are built from Debian 12 (bookworm) with the machine's own apt sources and options
and its local CA certificates (read at build time, never written into the repository), so the images
install packages and Python wheels the way the machine itself does.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DESCRIPTION_LABEL = "org.opencontainers.image.description"
STANDIN_LABEL = "org.agent-squad.standin"
SUITE = "bookworm"
SOURCES = ("auto", "official", "standin")
# How long a pull may take before the registry counts as unreachable (a missing registry answers at once).
PULL_TIMEOUT_S = 600


@dataclass(frozen=True)
class StandIn:
    """How to build a local stand-in of one official image from Debian's packages."""

    packages: tuple[str, ...]
    # docker import --change instructions (ENV, CMD, ENTRYPOINT, EXPOSE, WORKDIR ...)
    changes: tuple[str, ...]
    # Shell run in the new root (as `chroot "$1" sh -c ...`) once the packages are in.
    customize: tuple[str, ...] = ()
    # Files of this repository copied into the new root: (source, destination).
    copy_in: tuple[tuple[str, str], ...] = field(default=())
    debian_version: str = ""


IMAGES: dict[str, StandIn] = {
    # The Dockerfile's base: Python 3.11 (Debian's python3.11) with pip, as `python` and `pip`; pip may
    # install into the system, as in the official image.
    "python:3.11-slim-bookworm": StandIn(
        packages=("ca-certificates", "python3", "python3-pip", "python3-venv", "python-is-python3"),
        changes=("ENV LANG=C.UTF-8", 'CMD ["python3"]'),
        customize=("rm -f /usr/lib/python3*/EXTERNALLY-MANAGED", "ln -sf /usr/bin/pip3 /usr/local/bin/pip"),
        debian_version="python3.11 3.11.2",
    ),
    # PostgreSQL 15 (Debian's postgresql-15), with an entrypoint that keeps the official image's
    # POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB interface (deploy/images/postgres/entrypoint.sh).
    "postgres:15": StandIn(
        packages=("ca-certificates", "postgresql-15", "postgresql-client-15"),
        changes=(
            "ENV LANG=C.UTF-8",
            "ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "ENV PGDATA=/var/lib/postgresql/data",
            'ENTRYPOINT ["/usr/local/bin/standin-postgres-entrypoint"]',
            "EXPOSE 5432",
        ),
        # Debian's package makes a cluster of its own on install: the entrypoint makes the one used.
        customize=("rm -rf /var/lib/postgresql/15 /etc/postgresql/15",),
        copy_in=(("deploy/images/postgres/entrypoint.sh", "/usr/local/bin/standin-postgres-entrypoint"),),
        debian_version="postgresql-15 15",
    ),
    # nginx (Debian's 1.22), laid out as the official image: conf.d/*.conf is the site, logs go to
    # the container's output, and it runs in the foreground.
    "nginx:1.28": StandIn(
        packages=("ca-certificates", "nginx"),
        changes=('CMD ["nginx", "-g", "daemon off;"]', "EXPOSE 80"),
        customize=(
            "rm -f /etc/nginx/sites-enabled/default",
            "ln -sf /dev/stdout /var/log/nginx/access.log",
            "ln -sf /dev/stderr /var/log/nginx/error.log",
        ),
        debian_version="nginx 1.22",
    ),
}


class BaseImageError(RuntimeError):
    """A base image could not be made present; the message says why and what to do."""


def description(name: str, standin: StandIn) -> str:
    return f"local stand-in for {name} built from Debian packages ({SUITE}: {standin.debian_version})"


def _run(argv: Sequence[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), text=True, capture_output=True, **kwargs)


def image_labels(engine: str, name: str) -> dict[str, str] | None:
    """The labels of a local image, or None when the engine has no image of that name."""
    found = _run([engine, "image", "inspect", "--format", "{{json .Config.Labels}}", name])
    if found.returncode != 0:
        return None
    return json.loads(found.stdout.strip() or "null") or {}


def _host_apt_sources() -> list[Path]:
    """The machine's enabled apt sources files, as apt reads them."""
    sources_dir = Path("/etc/apt/sources.list.d")
    candidates = [Path("/etc/apt/sources.list")]
    if sources_dir.is_dir():
        candidates += sorted(p for p in sources_dir.iterdir() if p.suffix in (".list", ".sources"))
    return [path for path in candidates if path.is_file() and path.read_text().strip()]


def _host_apt_options() -> str:
    """The machine's own apt options that decide how packages are fetched: proxies, validity checks
    (a snapshot mirror's old Release files), CA bundles. `apt-config dump` merges every file apt reads."""
    dump = _run(["apt-config", "dump"])
    wanted = ("Proxy", "Check-Valid-Until", "Check-Date", "CaInfo", "Verify-Peer", "Verify-Host")
    lines = [
        line
        for line in dump.stdout.splitlines()
        if line.startswith("Acquire::") and any(word in line.split(" ", 1)[0] for word in wanted)
    ]
    return "\n".join(lines) + ("\n" if lines else "")


def _host_ca_certificates() -> list[Path]:
    """The machine's local CA certificates (update-ca-certificates' own folder)."""
    folder = Path("/usr/local/share/ca-certificates")
    return sorted(folder.rglob("*.crt")) if folder.is_dir() else []


def build_standin(engine: str, name: str, log=print) -> None:
    standin = IMAGES[name]
    if shutil.which("mmdebstrap") is None:
        raise BaseImageError(
            "mmdebstrap is not installed, so the stand-in images cannot be built: apt-get install mmdebstrap"
        )
    sources = _host_apt_sources()
    if not sources:
        raise BaseImageError("no apt sources on this machine (/etc/apt/sources.list{,.d}) to build the stand-ins from")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="squad-standin-") as scratch:
        options = Path(scratch, "apt-options.conf")
        options.write_text(_host_apt_options())
        tarball = Path(scratch, "rootfs.tar")
        hooks = []
        certificates = _host_ca_certificates()
        if certificates:
            hooks.append(
                '--customize-hook=mkdir -p "$1/usr/local/share/ca-certificates" && cp '
                + " ".join(f"'{path}'" for path in certificates)
                + ' "$1/usr/local/share/ca-certificates/" && chroot "$1" update-ca-certificates >/dev/null'
            )
        for source, destination in standin.copy_in:
            hooks.append(f"--customize-hook=install -m 0755 '{ROOT / source}' \"$1{destination}\"")
        for command in standin.customize:
            hooks.append(f"--customize-hook=chroot \"$1\" sh -c '{command}'")
        # Images carry no apt lists, documentation or man pages, as the official ones.
        hooks.append('--customize-hook=rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin')
        argv = [
            "mmdebstrap",
            "--mode=root" if os.geteuid() == 0 else "--mode=unshare",
            "--variant=minbase",
            "--quiet",
            f"--include={','.join(standin.packages)}",
            f"--aptopt={options}",
            "--dpkgopt=path-exclude=/usr/share/doc/*",
            "--dpkgopt=path-include=/usr/share/doc/*/copyright",
            "--dpkgopt=path-exclude=/usr/share/man/*",
            "--dpkgopt=path-exclude=/usr/share/locale/*",
            *hooks,
            SUITE,
            str(tarball),
            *(str(path) for path in sources),
        ]
        log(f"base image {name}: building a local stand-in from Debian packages ({', '.join(standin.packages)})")
        built = _run(argv)
        if built.returncode != 0:
            raise BaseImageError(f"mmdebstrap failed building the stand-in for {name}:\n{built.stderr[-3000:]}")
        changes = [
            *standin.changes,
            f'LABEL {DESCRIPTION_LABEL}="{description(name, standin)}"',
            f'LABEL {STANDIN_LABEL}="{name}"',
        ]
        imported = _run([engine, "import", *(f"--change={change}" for change in changes), str(tarball), name])
        if imported.returncode != 0:
            raise BaseImageError(f"{engine} import of the stand-in for {name} failed:\n{imported.stderr}")
    log(f"base image {name}: stand-in built in {time.monotonic() - started:.0f} s")


def pull(engine: str, name: str) -> str | None:
    """None when the engine pulled the image; otherwise why not."""
    try:
        pulled = _run([engine, "pull", "--quiet", name], timeout=PULL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"no answer within {PULL_TIMEOUT_S} s"
    if pulled.returncode == 0:
        return None
    return (pulled.stderr.strip().splitlines() or ["no reason given"])[-1]


def ensure(engine: str, names: Sequence[str], source: str, log=print) -> dict[str, str]:
    """Make each image present; returns name -> what it is ("cached official", "stand-in built", ...)."""
    outcome: dict[str, str] = {}
    for name in names:
        labels = image_labels(engine, name)
        is_standin = labels is not None and STANDIN_LABEL in labels
        if labels is not None and not (source == "official" and is_standin):
            outcome[name] = "cached stand-in" if is_standin else "cached"
            log(f"base image {name}: {outcome[name]}")
            continue
        if source in ("auto", "official"):
            problem = pull(engine, name)
            if problem is None:
                outcome[name] = "pulled"
                log(f"base image {name}: pulled")
                continue
            if source == "official":
                raise BaseImageError(
                    f"could not pull {name}: {problem}. Without a registry, build a local stand-in instead: "
                    '--base-images standin (make test-compose COMPOSE_ARGS="--base-images standin")'
                )
            log(f"base image {name}: cannot pull ({problem}); building the local stand-in")
        build_standin(engine, name, log)
        outcome[name] = "stand-in built"
    return outcome


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.base_images", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    ensure_parser = sub.add_parser("ensure", help="make every base image present: cached, pulled or a stand-in")
    ensure_parser.add_argument("--source", choices=SOURCES, default="auto")
    ensure_parser.add_argument("--engine", default="docker")
    ensure_parser.add_argument("images", nargs="*", help=f"some of {', '.join(IMAGES)} (default: all)")
    sub.add_parser("list", help="the base images and what their stand-ins are built from")
    args = parser.parse_args(argv)
    if args.action == "list":
        for name, standin in IMAGES.items():
            print(f"{name:<28} {description(name, standin)}")
        return 0
    unknown = sorted(set(args.images) - set(IMAGES))
    if unknown:
        parser.error(f"no stand-in recipe for {unknown}; known: {', '.join(IMAGES)}")
    try:
        ensure(args.engine, args.images or list(IMAGES), args.source)
    except BaseImageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
