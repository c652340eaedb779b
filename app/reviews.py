"""The review loop: what GitHub's webhooks change once a task's pull request is open.

A verified delivery (app/api/github_webhooks.py) is applied here, in the request's one transaction:

- it is matched to a task of the platform by its repository and pull request number (or, before the task
  has stored its number, by the pull request's head branch); anything else is ignored;
- it is applied once: its `X-GitHub-Delivery` GUID is stored with what it changed (`WebhookDelivery`),
  and the same GUID again changes nothing;
- the pull request's state moves the task: merged -> `done`, closed without merging -> `failed`
  (CLOSED_REASON), reopened -> back to `review`; a delivery about an older state of the pull request than
  the last one applied (its `updated_at` is older) is stale and changes nothing;
- a review requesting changes, or a comment addressed to the agent (one that mentions `@<agent name>` or
  the platform's own login, `addressed_to_agent`), becomes a `ReviewRequest`. It starts a review round (a
  `review` job: the agent works again on the same branch and answers on the pull request) when the task
  is in review, or waits when a run of the task is active: the run's end (`start_waiting_round`, called
  by the worker as it finishes the job) starts one round for every request that waited. Reviews and
  comments by the pull request's author (the platform's own GitHub account, which opened it) are never
  requests: the agent's replies must not start rounds of their own.

Only database writes happen here: the heavy work (sandbox, agent, push) is the review round's job.
Every change comes with its events, so the board moves the card live.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.events import record_event
from app.models import ACTIVE_JOB_STATES, Agent, Job, JobKind, ReviewRequest, Squad, Task, TaskStatus, WebhookDelivery
from app.redaction import redact

# The events a squad's repository hook delivers (app/api/squads.py registers it).
HOOK_EVENTS = ["pull_request", "pull_request_review", "pull_request_review_comment", "issue_comment", "push"]
CLOSED_REASON = "pull request closed without merging"
# How much of a review's text an event carries (the review round reads it whole from the database).
EVENT_TEXT_CHARS = 2000


class MalformedDelivery(ValueError):
    """A signed delivery whose payload lacks what its event always carries."""


@dataclass(frozen=True)
class Delivery:
    guid: str
    event: str
    payload: dict[str, Any]
    # The platform's secrets: a reviewer may paste one into a review, and events never repeat them.
    secrets: tuple[str, ...] = ()

    @property
    def action(self) -> str | None:
        action = self.payload.get("action")
        return action if isinstance(action, str) else None


@dataclass(frozen=True)
class Outcome:
    """What a delivery did: `applied` (the task changed), `queued` (a review round was queued or a request
    waits for one), `ignored` (nothing to do, `detail` says why) or `duplicate` (applied before)."""

    result: str
    detail: str
    task_id: str | None = None


def ignored(detail: str, task: Task | None = None) -> Outcome:
    return Outcome("ignored", detail, task.id if task else None)


@dataclass(frozen=True)
class PullRequestFacts:
    """What every delivery about a pull request says of it."""

    repository: str  # owner/name
    number: int
    head_ref: str | None
    author: str  # who opened it: the platform's own account for the platform's pull requests
    url: str
    updated_at: datetime | None


async def apply_delivery(session: AsyncSession, delivery: Delivery) -> Outcome:
    """Apply a verified delivery to the task it is about, in the caller's transaction (the caller commits).

    Raises MalformedDelivery for a payload that lacks its event's fields; IntegrityError at the commit
    means the same GUID was stored meanwhile by a simultaneous delivery (a duplicate).
    """
    handler = _HANDLERS.get((delivery.event, delivery.action))
    if handler is None:
        what = f"{delivery.event}.{delivery.action}" if delivery.action else delivery.event
        return ignored(f"the platform does not act on {what} deliveries")
    facts = _pull_request_facts(delivery)
    if facts is None:
        return ignored("a comment on an issue, not on a pull request")
    task = await _task_of(session, facts)
    if task is None:
        return ignored(f"no task of this platform has pull request #{facts.number} of {facts.repository}")
    if await session.get(WebhookDelivery, delivery.guid) is not None:
        return Outcome("duplicate", f"delivery {delivery.guid} was applied already; nothing changes twice", task.id)
    return await handler(session, task, facts, delivery)


# -- the pull request's state ---------------------------------------------------------------------------
async def _closed(session: AsyncSession, task: Task, facts: PullRequestFacts, delivery: Delivery) -> Outcome:
    pull = _object(delivery.payload, "pull_request")
    sender = _login(delivery.payload.get("sender"))
    # Merged is for good: no later state of the pull request makes a merge stale.
    if pull.get("merged"):
        data = {
            "number": facts.number,
            "url": facts.url,
            "merged_by": _login(pull.get("merged_by")) or sender,
            "merge_commit_sha": pull.get("merge_commit_sha"),
        }
        await _applied(session, task, facts, delivery, [("pull_request.merged", data)])
        if task.status == TaskStatus.DONE:
            return Outcome("applied", "the pull request was merged; the task was done already", task.id)
        await _move(session, task, TaskStatus.DONE, f"pull request #{facts.number} merged by {data['merged_by']}")
        return Outcome("applied", f"pull request #{facts.number} merged: the task is done", task.id)
    if _is_stale(task, facts):
        return ignored(_stale(task, facts), task)
    if task.status not in (TaskStatus.REVIEW, TaskStatus.IN_PROGRESS):
        return ignored(f"the pull request was closed, but the task is {task.status} already", task)
    closed = ("pull_request.closed", {"number": facts.number, "url": facts.url, "closed_by": sender})
    await _applied(session, task, facts, delivery, [closed])
    await _move(session, task, TaskStatus.FAILED, f"pull request #{facts.number} closed by {sender}", CLOSED_REASON)
    return Outcome("applied", f"pull request #{facts.number} closed without merging: the task failed", task.id)


async def _reopened(session: AsyncSession, task: Task, facts: PullRequestFacts, delivery: Delivery) -> Outcome:
    if _is_stale(task, facts):
        return ignored(_stale(task, facts), task)
    if task.status != TaskStatus.FAILED or task.error != CLOSED_REASON:
        return ignored(f"the pull request was reopened, but the task is {task.status}, not closed with it", task)
    sender = _login(delivery.payload.get("sender"))
    reopened = ("pull_request.reopened", {"number": facts.number, "url": facts.url, "reopened_by": sender})
    await _applied(session, task, facts, delivery, [reopened])
    await _move(session, task, TaskStatus.REVIEW, f"pull request #{facts.number} reopened by {sender}")
    return Outcome("applied", f"pull request #{facts.number} reopened: the task is in review again", task.id)


async def _synchronized(session: AsyncSession, task: Task, facts: PullRequestFacts, delivery: Delivery) -> Outcome:
    if _is_stale(task, facts):
        return ignored(_stale(task, facts), task)
    head = _object(_object(delivery.payload, "pull_request"), "head")
    head_sha = _text(head.get("sha"), 40) or None
    data = {"number": facts.number, "head_sha": head_sha, "before": _text(delivery.payload.get("before"), 40)}
    await _applied(session, task, facts, delivery, [("pull_request.synchronized", data)])
    task.pr_head_sha = head_sha
    return Outcome("applied", f"pull request #{facts.number} is at {head_sha}", task.id)


# -- requests for changes -------------------------------------------------------------------------------
async def _review_submitted(session: AsyncSession, task: Task, facts: PullRequestFacts, delivery: Delivery) -> Outcome:
    review = _object(delivery.payload, "review")
    state = str(review.get("state", "")).lower()
    reviewer = _login(review.get("user"))
    if state != "changes_requested":
        return ignored(f"a review that is {state or 'of no state'}: only a request for changes is the agent's", task)
    if _is_the_platforms(reviewer, facts):
        return ignored("a review by the pull request's own author, the platform", task)
    request = ReviewRequest(
        task_id=task.id,
        kind="review",
        github_id=_number(review.get("id"), "review.id"),
        reviewer=reviewer,
        body=_text(review.get("body")),
        url=_text(review.get("html_url"), 500) or None,
    )
    return await _requested(session, task, facts, delivery, request)


async def _commented(session: AsyncSession, task: Task, facts: PullRequestFacts, delivery: Delivery) -> Outcome:
    comment = _object(delivery.payload, "comment")
    author, body = _login(comment.get("user")), _text(comment.get("body"))
    if _is_the_platforms(author, facts):
        return ignored("a comment by the pull request's own author, the platform", task)
    agent = await session.get(Agent, task.agent_id) if task.agent_id else None
    if not addressed_to_agent(body, agent.name if agent else None, facts.author):
        return ignored("a comment that does not mention the agent (@name) nor the platform's account", task)
    line_comment = delivery.event == "pull_request_review_comment"
    request = ReviewRequest(
        task_id=task.id,
        kind="review_comment" if line_comment else "comment",
        github_id=_number(comment.get("id"), "comment.id"),
        reviewer=author,
        body=body,
        path=_text(comment.get("path"), 500) or None if line_comment else None,
        line=_optional_number(comment.get("line")) if line_comment else None,
        url=_text(comment.get("html_url"), 500) or None,
    )
    return await _requested(session, task, facts, delivery, request)


def addressed_to_agent(body: str, agent_name: str | None, platform_login: str) -> bool:
    """Whether a comment is addressed to the agent: it mentions `@<agent name>` or `@<the platform's login>` (GitHub's
    mention syntax: not inside a word, case-insensitive)."""
    names = [name for name in (agent_name, platform_login) if name]
    return any(re.search(rf"(?<![\w@])@{re.escape(name)}(?![\w-])", body, re.IGNORECASE) for name in names)


async def _requested(
    session: AsyncSession, task: Task, facts: PullRequestFacts, delivery: Delivery, request: ReviewRequest
) -> Outcome:
    if task.status not in (TaskStatus.REVIEW, TaskStatus.IN_PROGRESS):
        return ignored(f"changes were asked for, but the task is {task.status}: its pull request's work is over", task)
    body = redact(request.body, delivery.secrets)[:EVENT_TEXT_CHARS]
    data = {
        "kind": request.kind,
        "reviewer": request.reviewer,
        "body": body,
        "comments": [{"path": request.path, "line": request.line, "body": body}]
        if request.kind == "review_comment"
        else [],
        "url": request.url,
    }
    await _applied(session, task, facts, delivery, [])
    session.add(request)
    if await _has_active_job(session, task.id) or task.status != TaskStatus.REVIEW:
        await _record(session, task, "review.changes_requested", {**data, "round": None})
        return Outcome("queued", "a run of the task is active: the request waits for it to end", task.id)
    await session.flush()
    round = await start_round(session, task, f"{request.reviewer} asked for changes", announce=data)
    return Outcome("queued", f"review round {round} queued", task.id)


async def start_round(session: AsyncSession, task: Task, reason: str, *, announce: dict[str, Any] | None = None) -> int:
    """Queue the task's next review round with every request that waits (call with the task locked, no run
    of it active, its status review). `announce` is the request that starts it, for its event."""
    task.review_round += 1
    await session.execute(
        update(ReviewRequest)
        .where(ReviewRequest.task_id == task.id, ReviewRequest.round.is_(None))
        .values(round=task.review_round)
        .execution_options(synchronize_session=False)
    )
    if announce is not None:
        await _record(session, task, "review.changes_requested", {**announce, "round": task.review_round})
    session.add(Job(task_id=task.id, kind=JobKind.REVIEW))
    await _move(session, task, TaskStatus.IN_PROGRESS, f"{reason}: review round {task.review_round}")
    return task.review_round


async def start_waiting_round(session: AsyncSession, task_id: str) -> int | None:
    """At the end of a task's run (its job no longer active, in the caller's transaction): the next review
    round, when requests waited for the run and the run left the task in review. Returns its number."""
    task = await lock_task(session, task_id)
    if task is None or task.status != TaskStatus.REVIEW or await _has_active_job(session, task_id):
        return None
    waiting = await session.scalar(
        select(func.count()).where(ReviewRequest.task_id == task_id, ReviewRequest.round.is_(None))
    )
    if not waiting:
        return None
    reviewers = sorted(
        set(
            await session.scalars(
                select(ReviewRequest.reviewer).where(ReviewRequest.task_id == task_id, ReviewRequest.round.is_(None))
            )
        )
    )
    said = f"{', '.join(reviewers)} asked for changes while the agent worked"
    return await start_round(session, task, said)


async def lock_task(session: AsyncSession, task_id: str) -> Task | None:
    """The task, locked until the transaction ends: the review loop's changes of one task (a delivery, the
    end of a run) happen one after the other. Lock the task before its jobs, everywhere."""
    return await session.get(Task, task_id, with_for_update=True, populate_existing=True)


# -- matching and applying ------------------------------------------------------------------------------
async def _task_of(session: AsyncSession, facts: PullRequestFacts) -> Task | None:
    """The platform's task whose pull request this is, locked; None for a repository or pull request no
    squad of this platform owns."""
    owned = select(Squad.id).where(func.lower(Squad.repository) == facts.repository.lower())
    query = select(Task.id).where(Task.squad_id.in_(owned))
    found = await session.scalar(query.where(Task.pr_number == facts.number).order_by(Task.updated_at.desc()))
    if found is None and facts.head_ref:
        # The task's run opened the pull request and has not stored its number yet.
        found = await session.scalar(
            query.where(Task.pr_number.is_(None), Task.branch == facts.head_ref).order_by(Task.updated_at.desc())
        )
    return await lock_task(session, found) if found is not None else None


async def _applied(
    session: AsyncSession,
    task: Task,
    facts: PullRequestFacts,
    delivery: Delivery,
    events: list[tuple[str, dict[str, Any]]],
) -> None:
    session.add(WebhookDelivery(guid=delivery.guid, event=delivery.event, action=delivery.action, task_id=task.id))
    # Only the pull request's own events order its states: a comment's time says nothing of them.
    later = task.pr_updated_at is None or (facts.updated_at is not None and facts.updated_at > task.pr_updated_at)
    if delivery.event == "pull_request" and facts.updated_at is not None and later:
        task.pr_updated_at = facts.updated_at
    if task.pr_number is None:
        task.pr_number, task.pr_url = facts.number, facts.url
    for type, data in events:
        await _record(session, task, type, data)


async def _move(session: AsyncSession, task: Task, status: TaskStatus, reason: str, error: str | None = None) -> None:
    task.status, task.error = status, error
    data = {"status": status.value, "pr_url": task.pr_url, "error": error, "reason": reason}
    await _record(session, task, "task.status", data)


async def _record(session: AsyncSession, task: Task, type: str, data: dict[str, Any]) -> None:
    await record_event(session, task.squad_id, type, data, task_id=task.id, agent_id=task.agent_id)


async def _has_active_job(session: AsyncSession, task_id: str) -> bool:
    query = select(exists().where(Job.task_id == task_id, Job.state.in_(ACTIVE_JOB_STATES)))
    return bool(await session.scalar(query))


def _is_stale(task: Task, facts: PullRequestFacts) -> bool:
    return facts.updated_at is not None and task.pr_updated_at is not None and facts.updated_at < task.pr_updated_at


def _stale(task: Task, facts: PullRequestFacts) -> str:
    return (
        f"a stale delivery: it shows pull request #{facts.number} as of {facts.updated_at}, and the platform "
        f"applied one as of {task.pr_updated_at} already"
    )


def _is_the_platforms(login: str, facts: PullRequestFacts) -> bool:
    return login.lower() == facts.author.lower()


# -- reading payloads -----------------------------------------------------------------------------------
def _pull_request_facts(delivery: Delivery) -> PullRequestFacts | None:
    payload = delivery.payload
    repository = _text(_object(payload, "repository").get("full_name"), 200)
    if not repository:
        raise MalformedDelivery("the payload's repository has no full_name")
    if delivery.event == "issue_comment":
        issue = _object(payload, "issue")
        if not isinstance(issue.get("pull_request"), dict):
            return None
        pull, head_ref = issue, None
        url = _text(_object(issue, "pull_request").get("html_url"), 500) or _text(issue.get("html_url"), 500)
    else:
        pull = _object(payload, "pull_request")
        head_ref = _text(_object(pull, "head").get("ref"), 250) or None
        url = _text(pull.get("html_url"), 500)
    return PullRequestFacts(
        repository=repository,
        number=_number(pull.get("number"), "the pull request's number"),
        head_ref=head_ref,
        author=_login(pull.get("user")),
        url=url,
        updated_at=_moment(pull.get("updated_at")),
    )


def _object(payload: dict[str, Any], key: str) -> dict[str, Any]:
    value = payload.get(key)
    if not isinstance(value, dict):
        raise MalformedDelivery(f"the payload has no {key} object")
    return value


def _login(user: Any) -> str:
    return _text(user.get("login"), 100) if isinstance(user, dict) else ""


def _number(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedDelivery(f"{what} is not a number")
    return value


def _optional_number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any, limit: int | None = None) -> str:
    """Text from GitHub as the database can keep it: no NUL, no unpaired surrogate, at most `limit` long."""
    if not isinstance(value, str):
        return ""
    text = value.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
    return text[:limit] if limit is not None else text


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


_HANDLERS: dict[tuple[str, str | None], Any] = {
    ("pull_request", "closed"): _closed,
    ("pull_request", "reopened"): _reopened,
    ("pull_request", "synchronize"): _synchronized,
    ("pull_request_review", "submitted"): _review_submitted,
    ("issue_comment", "created"): _commented,
    ("pull_request_review_comment", "created"): _commented,
}
