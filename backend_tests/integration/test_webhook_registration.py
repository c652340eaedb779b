"""A squad's repository gets the platform's webhook when the squad is created: made through GitHub's hooks API
(PLATFORM_PUBLIC_URL + /api/v1/github/webhooks, JSON, the platform's secret, the events of the review loop),
reused and brought up to date when the repository has one for that URL already. When it cannot be made (no
public URL, no secret, GitHub refusing the token), the squad is created all the same, and its answer and the
log say why and point at DEPLOYMENT.md."""

import logging

import pytest

from app.reviews import HOOK_EVENTS
from fixtures.credentials import CANARY_GITHUB_WEBHOOK_SECRET, CANARY_SQUAD_ADMIN_TOKEN
from fixtures.inprocess import INPROCESS_PUBLIC_URL
from fixtures.squads import make_squad

pytestmark = [pytest.mark.integration, pytest.mark.priority_p1]

HOOK_URL = f"{INPROCESS_PUBLIC_URL}/api/v1/github/webhooks"


@pytest.mark.priority_p0
async def test_a_new_squads_repository_gets_the_platforms_signed_webhook_which_pings_it(webhook_platform):
    squad = await make_squad(webhook_platform.client, webhook_platform.github)

    (hook,) = webhook_platform.github.hooks(squad.owner, squad.repo_name)
    assert (hook.config.url, hook.config.content_type, hook.config.secret) == (
        HOOK_URL,
        "json",
        CANARY_GITHUB_WEBHOOK_SECRET,
    )
    assert (hook.events, hook.active) == (HOOK_EVENTS, True)
    assert squad.squad["webhook"] == {
        "status": "created",
        "url": HOOK_URL,
        "hook_id": hook.id,
        "detail": f"GitHub delivers {', '.join(HOOK_EVENTS)} events of {squad.squad['repository']} to {HOOK_URL} "
        f"(hook {hook.id})",
    }
    (ping,) = await webhook_platform.deliver()
    assert (ping.event, ping.status_code) == ("ping", 200)


async def test_a_second_squad_of_the_same_repository_reuses_the_hook_and_brings_it_up_to_date(webhook_platform):
    """Someone turned the hook off and cut its events: the next squad of the repository puts it right,
    leaving one hook."""
    first = await make_squad(webhook_platform.client, webhook_platform.github)
    owner, name = first.owner, first.repo_name
    (hook,) = webhook_platform.github.hooks(owner, name)
    webhook_platform.github.update_hook(owner, name, hook.id, config={"url": HOOK_URL}, events=["push"], active=False)

    second = await webhook_platform.client.post(
        "/api/v1/squads",
        json={"name": "second squad", "repository": first.squad["repository"]},
        headers={"Authorization": f"Bearer {CANARY_SQUAD_ADMIN_TOKEN}"},
    )

    assert second.status_code == 201, second.text
    (kept,) = webhook_platform.github.hooks(owner, name)
    assert (second.json()["webhook"]["status"], second.json()["webhook"]["hook_id"]) == ("updated", hook.id)
    assert (kept.id, kept.events, kept.active, kept.config.secret, kept.config.content_type) == (
        hook.id,
        HOOK_EVENTS,
        True,
        CANARY_GITHUB_WEBHOOK_SECRET,
        "json",
    )


async def test_without_a_public_url_the_squad_is_made_and_says_its_repository_has_no_webhook(
    app_client, fake_github, caplog
):
    with caplog.at_level(logging.WARNING, logger="app.api.squads"):
        squad = await make_squad(app_client, fake_github)

    webhook = squad.squad["webhook"]
    assert (webhook["status"], webhook["url"], webhook["hook_id"]) == ("not_registered", None, None)
    assert webhook["detail"].startswith("PLATFORM_PUBLIC_URL is not set")
    assert "DEPLOYMENT.md" in webhook["detail"]
    assert fake_github.hooks(squad.owner, squad.repo_name) == []
    assert any("webhook not registered: PLATFORM_PUBLIC_URL is not set" in r.getMessage() for r in caplog.records)


async def test_without_a_secret_no_webhook_is_made_since_its_deliveries_would_be_refused(
    configured_platform, fake_github
):
    platform = await configured_platform(platform_public_url=INPROCESS_PUBLIC_URL, github_webhook_secret="")

    squad = await make_squad(platform.client, fake_github)

    assert squad.squad["webhook"]["status"] == "not_registered"
    assert squad.squad["webhook"]["detail"].startswith("GITHUB_WEBHOOK_SECRET is not set")
    assert fake_github.hooks(squad.owner, squad.repo_name) == []


@pytest.mark.parametrize(
    "operation, status",
    [("list_hooks", 403), ("list_hooks", 404), ("create_hook", 403)],
    ids=["listing-forbidden", "listing-not-found", "creating-forbidden"],
)
async def test_github_refusing_the_token_the_hooks_leaves_the_squad_made_and_says_admin_rights_are_needed(
    webhook_platform, fake_github, operation, status
):
    fake_github.add_fault(operation, status=status, body={"message": "Resource not accessible by integration"})

    squad = await make_squad(webhook_platform.client, fake_github)

    webhook = squad.squad["webhook"]
    assert (webhook["status"], webhook["url"], webhook["hook_id"]) == ("not_registered", HOOK_URL, None)
    assert "admin rights on the repository" in webhook["detail"] and "DEPLOYMENT.md" in webhook["detail"]
    assert (await squad.client.request("GET", "/api/v1/squads/me")).status_code == 200, "the squad exists"


async def test_github_failing_while_the_hook_is_made_leaves_the_squad_made_saying_what_failed(
    webhook_platform, fake_github
):
    fake_github.add_fault("create_hook", status=500, body={"message": "Server Error"})

    squad = await make_squad(webhook_platform.client, fake_github)

    webhook = squad.squad["webhook"]
    assert webhook["status"] == "not_registered"
    assert webhook["detail"].startswith("registering the webhook failed (creating a webhook on")
    assert "HTTP 500" in webhook["detail"]
