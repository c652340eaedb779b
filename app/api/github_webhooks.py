"""GitHub's webhook deliveries: `POST /api/v1/github/webhooks`.

No squad token here: GitHub signs each delivery with the secret the platform gave its hooks
(GITHUB_WEBHOOK_SECRET), and that signature (`X-Hub-Signature-256`, HMAC-SHA256 of the exact body) is
checked in constant time before anything else is read. Then the delivery is applied once, by its
`X-GitHub-Delivery` GUID (app/reviews.py), and answered at once: what it sets off (a review round) is a
job for the workers. The answers, all JSON `{"result", "detail"}` or the Problem shape:

- 200 applied, ignored (not the platform's repository or pull request, an event it does not act on:
  nothing changes), or a duplicate (applied before: nothing changes twice), so GitHub stops retrying;
- 202 a review round queued, or a request waiting for the run in progress;
- 400 a delivery without its event or GUID, or a body that is no JSON object;
- 401 no signature, a malformed one, or one that is not of this body with this secret: nothing changes;
- 413 a body past GITHUB_WEBHOOK_MAX_BODY_BYTES (app/http_limits.py reads it before this runs);
- 503 the platform has no GITHUB_WEBHOOK_SECRET: it takes no deliveries, since it could not tell GitHub's
  from forgeries (its operator sets the secret, DEPLOYMENT.md).
"""

import hashlib
import hmac
import json
import logging
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import get_runtime, get_session
from app.api.errors import Problem
from app.reviews import Delivery, MalformedDelivery, Outcome, apply_delivery
from app.runtime import Runtime

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="
# A GUID is 36 characters; anything much longer is not GitHub's.
MAX_GUID_LENGTH = 100


class DeliveryAnswer(BaseModel):
    """What the platform did with a delivery: `applied`, `queued`, `ignored` or `duplicate`, and why."""

    result: str
    detail: str


def _problem(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description}


router = APIRouter(
    prefix="/github",
    tags=["github"],
    responses={
        400: _problem("no X-GitHub-Event or X-GitHub-Delivery header, or a body that is not a JSON object"),
        401: _problem("no X-Hub-Signature-256, or not the signature of this body with the platform's secret"),
        413: _problem("the body is larger than the platform takes of a delivery (GITHUB_WEBHOOK_MAX_BODY_BYTES)"),
        503: _problem("the platform has no GITHUB_WEBHOOK_SECRET, so it takes no deliveries; or its database is away"),
    },
)


@router.post(
    "/webhooks",
    response_model=DeliveryAnswer,
    responses={202: {"model": DeliveryAnswer, "description": "a review round queued, or a request waiting for one"}},
)
async def receive_delivery(
    request: Request,
    runtime: Runtime = Depends(get_runtime),
    session: AsyncSession = Depends(get_session),
) -> JSONResponse:
    """A delivery of the platform's repository webhooks, signed by GitHub (see DEPLOYMENT.md)."""
    secret = runtime.settings.github_webhook_secret.get_secret_value()
    if not secret:
        raise HTTPException(
            503,
            "this platform takes no GitHub webhooks: GITHUB_WEBHOOK_SECRET is not set, so it could not tell "
            "GitHub's deliveries from forgeries; its operator sets it to the hook's secret (DEPLOYMENT.md)",
        )
    body = await request.body()
    _verify(body, request.headers.get(SIGNATURE_HEADER), secret)
    event = request.headers.get("X-GitHub-Event", "")
    guid = request.headers.get("X-GitHub-Delivery", "")
    if not event or not guid or len(guid) > MAX_GUID_LENGTH or len(event) > 50:
        raise HTTPException(400, "a delivery names its event (X-GitHub-Event) and its GUID (X-GitHub-Delivery)")
    payload = _payload(body, request.headers.get("content-type", ""))
    if event == "ping":
        return _answer(Outcome("ignored", f"pong: hook {payload.get('hook_id')} reaches this platform"))
    delivery = Delivery(guid=guid, event=event, payload=payload, secrets=tuple(runtime.settings.secrets()))
    try:
        outcome = await apply_delivery(session, delivery)
    except MalformedDelivery as error:
        raise HTTPException(400, f"the {event} delivery {guid} is not as GitHub sends it: {error}") from None
    try:
        await session.commit()
    except IntegrityError:
        # The same GUID, applied by a simultaneous delivery that committed first.
        await session.rollback()
        outcome = Outcome("duplicate", f"delivery {guid} was applied already; nothing changes twice")
    log.info("webhook %s %s (%s): %s, %s", event, delivery.action or "-", guid, outcome.result, outcome.detail)
    return _answer(outcome)


def _verify(body: bytes, signature: str | None, secret: str) -> None:
    if not signature:
        raise HTTPException(401, f"the delivery is not signed: GitHub sends {SIGNATURE_HEADER} with the hook's secret")
    expected = SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    # compare_digest on the bytes: constant time whatever the given value holds (non-ASCII included).
    if not hmac.compare_digest(expected.encode(), signature.strip().encode(errors="replace")):
        raise HTTPException(
            401, f"{SIGNATURE_HEADER} is not the signature of this body with the platform's webhook secret"
        )


def _payload(body: bytes, content_type: str) -> dict[str, Any]:
    """The JSON payload: the body itself, or (a hook made with content type `form`) its `payload` field."""
    try:
        if content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
            fields = parse_qs(body.decode(), strict_parsing=False)
            text = fields.get("payload", [""])[0]
        else:
            text = body.decode()
        payload = json.loads(text)
    except (UnicodeDecodeError, ValueError):
        payload = None
    if not isinstance(payload, dict):
        raise HTTPException(400, "the delivery's body is not a JSON object (nor a form with one in `payload`)")
    return payload


def _answer(outcome: Outcome) -> JSONResponse:
    status = 202 if outcome.result == "queued" else 200
    return JSONResponse({"result": outcome.result, "detail": outcome.detail}, status_code=status)
