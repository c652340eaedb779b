# One image for every service of docker-compose.test.yml: the platform (app/), the fakes (mocks/),
# the shared harness (fixtures/) and the Locust users (load/).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The fakes run real git (bare repositories, clone, commit, push). The system identity is only a
# fallback: anything the fakes or the agent configure themselves takes precedence over it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/* \
    && git config --system user.name "Agent Squad test image" \
    && git config --system user.email "agent-squad@example.invalid" \
    && git config --system init.defaultBranch main

# Dependencies first, read from pyproject.toml, so that editing the sources does not reinstall them.
WORKDIR /srv/squad
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY app ./app
COPY mocks ./mocks
COPY fixtures ./fixtures
COPY load ./load
RUN pip install --no-deps .

# Not root: uid 1000 is the usual first user on a developer machine, so reports written into the
# bind-mounted ./reports stay editable there. The working directory stays writable for the default
# SQLite database (./.squad) when the image runs without DATABASE_URL.
RUN useradd --create-home --uid 1000 squad \
    && mkdir -p reports .squad \
    && chown squad:squad . reports .squad
USER squad

# The working directory holds app/migrations/alembic.ini, which the app service runs relative to it.
EXPOSE 8000 8001 8002
CMD ["python", "-m", "uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000"]
