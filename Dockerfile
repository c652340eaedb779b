# The images of docker-compose.test.yml and docker-compose.deploy.yml, one Dockerfile, four stages:
#   base     Python, git, the platform's and the fakes' dependencies (deploy/images/requirements.py)
#   browser  + Debian's Chromium, the pytest harness and the browser suite (frontend_tests/): the Playwright runner
#   load     + Locust and the Locust users (load/): the load runner
#   runtime  the platform (app/) and the fakes (mocks/), with bubblewrap for the fake E2B's sandboxes; no
#            pytest, Playwright or Locust (the default: `docker build .`)
#
# Debian 12 (bookworm) on purpose, not the moving `python:3.11-slim`: Chromium and bubblewrap come from
# Debian's packages, and a machine without a registry builds this base as a local stand-in from the
# same release (tools/base_images.py).
FROM python:3.11-slim-bookworm AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The fakes run real git (bare repositories, clone, commit, push). The system identity is only a
# fallback: anything the fakes or the agent configure themselves takes precedence over it.
# Not pinned: Debian's stable packages only change for security fixes, which a test image wants.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/* \
    && git config --system user.name "Agent Squad test image" \
    && git config --system user.email "agent-squad@example.invalid" \
    && git config --system init.defaultBranch main

# Dependencies first, read from pyproject.toml, so that editing the sources does not reinstall them.
# Each image installs only its own group (deploy/images/requirements.py says which is whose), at the
# versions of the constraints file that make setup and CI install too.
WORKDIR /srv/squad
COPY pyproject.toml ./
COPY requirements/constraints.txt ./requirements/
COPY deploy/images/requirements.py ./deploy/images/
RUN python deploy/images/requirements.py runtime > /tmp/requirements.txt \
    && pip install --constraint requirements/constraints.txt -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Not root: uid 1000 is the usual first user on a developer machine, so reports written into the
# bind-mounted ./reports stay editable there. The working directory stays writable for the default
# SQLite database (./.squad) and pytest's cache.
RUN useradd --create-home --uid 1000 squad \
    && mkdir -p reports .squad \
    && chown 1000:1000 . reports .squad


# Every `pip install --no-deps .` below copies README.md and LICENSE first: the package's metadata
# names them (readme, license-files), and the build reads them.

# The Playwright runner. Playwright cannot download its own browser here, so the suite drives
# Debian's Chromium (playwright.config.py), headless, with its launch flags: its headless shell,
# which costs a third of the CPU per browser context, and /usr/bin/chromium for a headed run.
# Playwright's own driver is a Node.js binary that needs libatomic, which a slim Debian lacks.
FROM base AS browser
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium chromium-headless-shell fonts-liberation libatomic1 \
    && rm -rf /var/lib/apt/lists/*
RUN python deploy/images/requirements.py browser > /tmp/requirements.txt \
    && pip install --constraint requirements/constraints.txt -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt
COPY app ./app
COPY mocks ./mocks
COPY fixtures ./fixtures
COPY tools ./tools
COPY README.md LICENSE ./
RUN pip install --no-deps .
COPY playwright.config.py ./
COPY frontend_tests ./frontend_tests
USER 1000:1000
CMD ["python", "-m", "pytest", "frontend_tests"]


# The Locust runner: `locust -f load/` (master or worker) against SQUAD_BASE_URL.
FROM base AS load
RUN python deploy/images/requirements.py load > /tmp/requirements.txt \
    && pip install --constraint requirements/constraints.txt -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt
COPY app ./app
COPY mocks ./mocks
COPY fixtures ./fixtures
COPY tools ./tools
COPY README.md LICENSE ./
RUN pip install --no-deps .
COPY load ./load
USER 1000:1000
CMD ["locust", "-f", "load/"]


# The platform and the fakes. bubblewrap makes the fake E2B's sandboxes (Linux namespaces inside the
# container: the fake-e2b service runs unconfined by seccomp, AppArmor and the masked /proc paths;
# docker-compose.test.yml says why).
FROM base AS runtime
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap \
    && rm -rf /var/lib/apt/lists/*
COPY app ./app
COPY mocks ./mocks
COPY fixtures ./fixtures
COPY tools ./tools
COPY README.md LICENSE ./
RUN pip install --no-deps .
# The working directory holds app/migrations/alembic.ini, which the migrate service runs relative to it.
EXPOSE 8000 8001 8002 8003
USER 1000:1000
CMD ["python", "-m", "app", "--host", "0.0.0.0", "--port", "8000"]
