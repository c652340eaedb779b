"""The migration tests' databases: a test that migrates rows it stored gets an empty database of its own."""

import itertools

import pytest

from fixtures.databases import worker_database_url

_serial = itertools.count()


@pytest.fixture
def database(worker_id, tmp_path) -> str:
    """An empty database of this test's own: a SQLite file, or a PostgreSQL database with TEST_DATABASE_URL."""
    return worker_database_url(f"{worker_id}_rows{next(_serial)}", tmp_path)
