"""`GET /metrics`: Prometheus text."""

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select

from app.api.deps import RuntimeDep, SessionDep
from app.models import Job, JobState

router = APIRouter(tags=["health"])


@router.get("/metrics", include_in_schema=False)
async def metrics(runtime: RuntimeDep, session: SessionDep) -> Response:
    # Job counts live in the database (workers may be other processes), so they are read at scrape time.
    counts = {
        state: count for state, count in await session.execute(select(Job.state, func.count()).group_by(Job.state))
    }
    for state in JobState:
        runtime.metrics.jobs.labels(state.value).set(counts.get(state.value, 0))
    return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)
