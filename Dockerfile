# The images of docker-compose.test.yml, one Dockerfile, three stages:
#   base     the platform (app/), the fakes (mocks/), the shared harness (fixtures/), its commands (tools/),
#            the Locust users (load/)
#   browser  base + Debian's Chromium + the browser suite (frontend_tests/): the Playwright runner
#   runtime  base, as it runs every service but the runner (the default: `docker build .`)
FROM python:3.11-slim AS base

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

# Dependencies first, read from pyproject.toml, so that editing the sources does not reinstall them:
# the platform's runtime and the [test] extra (every image here runs a suite, the fakes or Locust),
# at the versions of the constraints file that make setup and CI install too.
WORKDIR /srv/squad
COPY pyproject.toml ./
COPY requirements/constraints.txt ./requirements/
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['test']))" \
        > /tmp/requirements.txt \
    && pip install --constraint requirements/constraints.txt -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY app ./app
COPY mocks ./mocks
COPY fixtures ./fixtures
COPY tools ./tools
COPY load ./load
# The package's metadata names them (readme, license-files).
COPY README.md LICENSE ./
RUN pip install --no-deps .

# Not root: uid 1000 is the usual first user on a developer machine, so reports written into the
# bind-mounted ./reports stay editable there. The working directory stays writable for the default
# SQLite database (./.squad) and pytest's cache.
RUN useradd --create-home --uid 1000 squad \
    && mkdir -p reports .squad \
    && chown 1000:1000 . reports .squad

# The working directory holds app/migrations/alembic.ini, which the app service runs relative to it.
EXPOSE 8000 8001 8002


# The Playwright runner. Playwright cannot download its own browser here, so the suite drives
# Debian's Chromium at /usr/bin/chromium (playwright.config.py), headless, with its launch flags.
FROM base AS browser
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium fonts-liberation \
    && rm -rf /var/lib/apt/lists/*
COPY playwright.config.py ./
COPY frontend_tests ./frontend_tests
USER 1000:1000
CMD ["python", "-m", "pytest", "frontend_tests"]


FROM base AS runtime
USER 1000:1000
CMD ["python", "-m", "app", "--host", "0.0.0.0", "--port", "8000"]
