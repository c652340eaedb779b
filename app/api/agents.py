"""Agents of a squad."""

from fastapi import APIRouter, status
from sqlalchemy import select

from app.api.deps import SessionDep
from app.api.errors import documented
from app.auth import CurrentSquad
from app.models import Agent
from app.schemas import AgentCreate, AgentOut

router = APIRouter(tags=["agents"], responses=documented(401, 503))


@router.post("/agents", status_code=status.HTTP_201_CREATED, response_model=AgentOut, responses=documented(400))
async def create_agent(body: AgentCreate, squad: CurrentSquad, session: SessionDep) -> Agent:
    agent = Agent(squad_id=squad.id, name=body.name)
    session.add(agent)
    await session.commit()
    return agent


@router.get("/agents", response_model=list[AgentOut])
async def list_agents(squad: CurrentSquad, session: SessionDep) -> list[Agent]:
    result = await session.scalars(select(Agent).where(Agent.squad_id == squad.id).order_by(Agent.created_at))
    return list(result)
