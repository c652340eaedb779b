"""The event a failed task announces: status failed, no pull request, and the reason, in exactly that
shape (the board reads each field)."""

import pytest
from sqlalchemy import select

from app.models import Event
from fixtures.squads import make_squad

pytestmark = [pytest.mark.integration, pytest.mark.priority_p1]


async def test_a_failed_task_announces_failed_with_no_pull_request_and_the_reason(
    app_client, runtime, db_session, fake_e2b, fake_github
):
    api = await make_squad(app_client, fake_github)
    task = await api.new_task()
    fake_e2b.add_fault("create_sandbox", status=500)

    await api.assign(task["id"])
    assert await runtime.worker().run_once()

    query = select(Event).where(Event.task_id == task["id"], Event.type == "task.status").order_by(Event.id)
    final = list(await db_session.scalars(query))[-1]
    assert set(final.data) == {"status", "pr_url", "error"}, final.data
    assert (final.data["status"], final.data["pr_url"]) == ("failed", None)
    assert final.data["error"].startswith("sandbox step: E2B: "), final.data["error"]
