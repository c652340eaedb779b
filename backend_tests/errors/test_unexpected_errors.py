"""A bug inside a request: a 500 in the API's Problem shape that shows nothing of the error itself."""

import pytest

from fixtures.credentials import CANARY_E2B_API_KEY
from fixtures.squads import make_squad

pytestmark = [pytest.mark.errors, pytest.mark.priority_p1]


async def test_an_unexpected_exception_is_a_500_problem_without_its_message(
    lenient_client, runtime, fake_e2b, fake_github, monkeypatch
):
    api = await make_squad(lenient_client, fake_github)
    task = await api.new_task()

    async def broken_create(**metadata):
        raise RuntimeError(f"bug while holding {CANARY_E2B_API_KEY}")

    monkeypatch.setattr(runtime.sandboxes, "create", broken_create)
    response = await api.call("POST", "/api/v1/sandboxes", json={"task_id": task["id"]})

    assert response.status_code == 500
    assert response.json() == {"detail": "internal error; the platform's log has the details"}
    assert "bug while holding" not in response.text and CANARY_E2B_API_KEY not in response.text
