"""The agent's loop: the model's turns and the tool calls the platform carries out for it, until the
model finishes or a cap stops it.

One turn: the conversation so far goes to the model (app/services/llm.py); its text streams to the
board as `agent.message` events; its usage is added up (`agent.usage`, and the task row's totals);
then each tool call it made, in order, is carried out in the sandbox (`agent.tool_call`, then
`agent.tool_result`) and its result goes back as a `tool` message. A turn without tool calls, or a
`finish` call, ends the loop with the model's summary.

The caps (AgentLimits), each failing the task with its reason: model turns (`step cap`), wall-clock
seconds, tokens and their cost in USD (the provider's own counts, priced by app/agent/pricing.py),
and malformed tool calls in a row. A budget is checked as soon as a turn's usage is known: the turn
that goes over it is the last, and its tool calls are not carried out. Budgets are per pipeline run;
the task row keeps what all of the task's runs spent.
"""

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from app.agent.pricing import Price
from app.agent.prompt import TOOLS, AgentTask, opening_messages
from app.agent.tools import Toolbox, ToolResult, shorten
from app.metrics import Metrics
from app.redaction import StreamRedactor, redact
from app.services.llm import Completion, LLMService, Usage

# How often at most a streaming message is stored as an `agent.message` delta (from the end of storing one).
MESSAGE_DELTA_INTERVAL_S = 0.1
# What of a tool call's arguments and result an event carries (the model gets up to AGENT_TOOL_OUTPUT_CHARS).
EVENT_TEXT_CHARS = 2000


class Reporter(Protocol):
    """Where the loop reports: the task's events, stored together with the changes to the task row
    they announce, in one transaction."""

    async def emit_all(self, events: Sequence[tuple[str, dict[str, Any]]], **task_changes: Any) -> None: ...


@dataclass(frozen=True)
class AgentLimits:
    max_steps: int = 40
    max_seconds: float = 900.0
    max_tokens: int = 1_000_000
    max_cost_usd: float = 2.0
    max_tool_errors: int = 3
    tool_output_chars: int = 8000
    command_timeout_s: float = 120.0


@dataclass
class Spend:
    """Tokens and USD, of one run or of a whole task."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, usage: Usage, price: Price) -> None:
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens
        self.cost_usd += price.cost(usage.prompt_tokens, usage.completion_tokens)

    def plus(self, other: "Spend") -> "Spend":
        return Spend(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cost_usd + other.cost_usd,
        )


@dataclass(frozen=True)
class AgentOutcome:
    summary: str
    steps: int
    spend: Spend


class AgentStopped(Exception):
    """A cap stopped the agent before it finished; `reason` names the cap (step_cap, time_cap,
    token_budget, cost_budget, tool_errors)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"agent stopped: {message}")
        self.reason = reason
        self.message = message


class _MessageStream:
    """A turn's text as `agent.message` deltas: what arrived, stored at most every MESSAGE_DELTA_INTERVAL_S.

    Deltas are stored, so they are redacted like everything else the loop says: each piece with the
    run's secrets, holding back what may be the start of a secret until the text that follows tells
    (app/redaction.py, StreamRedactor). A delta's `offset` is where its text starts in the message as
    the deltas say it, redacted; a retried turn streams again from offset 0, and replaces what its
    failed attempt showed. The whole message (redacted in one piece) replaces the deltas.
    """

    def __init__(
        self,
        emit: Callable[[dict[str, Any]], Awaitable[None]],
        step: int,
        clock: Callable[[], float],
        secrets: tuple[str, ...],
    ):
        self._emit = emit
        self._step = step
        self._clock = clock
        self._secrets = secrets
        self._redactor = StreamRedactor(secrets)
        self._pending: list[str] = []
        self._sent = 0
        self._attempt = 1
        self._flushed_at = clock()

    async def add(self, text: str, attempt: int) -> None:
        if attempt != self._attempt:
            self._attempt, self._pending, self._sent = attempt, [], 0
            self._redactor = StreamRedactor(self._secrets)
        self._pending.append(self._redactor.add(text))
        if self._clock() - self._flushed_at >= MESSAGE_DELTA_INTERVAL_S:
            await self._flush()

    async def _flush(self) -> None:
        text = "".join(self._pending)
        self._pending = []
        if not text:
            return  # all of it held back so far: nothing to say yet, and the interval still runs
        await self._emit({"step": self._step, "text": text, "offset": self._sent, "complete": False})
        self._sent += len(text)
        # The interval runs from when the delta is stored, not from when storing began: while the
        # database is slow, what streams in meanwhile goes into the next delta, rather than every
        # piece of text becoming a delta of its own, each waiting on the database in turn.
        self._flushed_at = self._clock()

    def complete(self, content: str) -> dict[str, Any]:
        """The whole message's event."""
        return {"step": self._step, "text": content, "offset": 0, "complete": True}


class AgentLoop:
    def __init__(
        self,
        llm: LLMService,
        toolbox: Toolbox,
        task: AgentTask,
        reporter: Reporter,
        *,
        limits: AgentLimits,
        price: Price,
        secrets: tuple[str, ...],
        spent_before: Spend | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`spent_before` is what the task's earlier runs spent: the task row's totals go on from it."""
        self._llm = llm
        self._toolbox = toolbox
        self._task = task
        self._reporter = reporter
        self._limits = limits
        self._price = price
        self._secrets = secrets
        self._spent_before = spent_before or Spend()
        self._metrics = metrics
        self._clock = clock
        self.spend = Spend()
        self.step = 0
        self._errors_in_row = 0
        # Events of one moment, stored in one transaction when the loop next waits on something.
        self._pending: list[tuple[str, dict[str, Any]]] = []
        self._pending_changes: dict[str, Any] = {}

    async def run(self) -> AgentOutcome:
        """Raises AgentStopped at a cap, an LLMError the provider's refusal, a SandboxError the sandbox's."""
        opening = opening_messages(self._task)
        messages = [{**message, "content": redact(message["content"], self._secrets)} for message in opening]
        try:
            async with asyncio.timeout(self._limits.max_seconds) as deadline:
                return await self._turns(messages)
        except TimeoutError:
            if not deadline.expired():
                raise
            raise await self._stopped("time_cap", f"ran for more than {self._limits.max_seconds:g} s") from None

    async def _turns(self, messages: list[dict[str, Any]]) -> AgentOutcome:
        while True:
            if self.step >= self._limits.max_steps:
                raise await self._stopped("step_cap", f"step cap of {self._limits.max_steps} reached")
            self.step += 1
            completion = await self._ask(messages)
            messages.append(completion.assistant_message())
            if not completion.tool_calls:
                await self._flush()
                return self._outcome(completion.content)
            for call in completion.tool_calls:
                self._queue(
                    "agent.tool_call",
                    {"step": self.step, "id": call.id, "name": call.name, "arguments": self._shown(call.arguments)},
                )
                await self._flush()
                result = await self._toolbox.call(call.name, call.arguments)
                self._queue(
                    "agent.tool_result",
                    {
                        "step": self.step,
                        "id": call.id,
                        "name": call.name,
                        "exit_code": result.exit_code,
                        "error": result.malformed,
                        "output": shorten(result.content, EVENT_TEXT_CHARS),
                    },
                )
                if result.summary is not None:
                    await self._flush()
                    return self._outcome(result.summary)
                messages.append({"role": "tool", "tool_call_id": call.id, "content": result.content})
                await self._count_error(result)
            await self._flush()  # the last result, before the model is asked again

    async def _ask(self, messages: list[dict[str, Any]]) -> Completion:
        stream = _MessageStream(lambda data: self._report("agent.message", data), self.step, self._clock, self._secrets)
        completion = await self._llm.complete(messages, TOOLS, on_text=stream.add)
        content = redact(completion.content, self._secrets)
        if content:
            self._queue("agent.message", stream.complete(content))
        await self._account(completion.usage)
        return completion

    async def _account(self, usage: Usage) -> None:
        turn = Spend()
        turn.add(usage, self._price)
        self.spend = self.spend.plus(turn)
        if self._metrics is not None:
            self._metrics.llm_tokens.labels("prompt").inc(usage.prompt_tokens)
            self._metrics.llm_tokens.labels("completion").inc(usage.completion_tokens)
            self._metrics.llm_cost.inc(turn.cost_usd)
        task = self._spent_before.plus(self.spend)
        self._queue(
            "agent.usage",
            {
                "step": self.step,
                "prompt_tokens": self.spend.prompt_tokens,
                "completion_tokens": self.spend.completion_tokens,
                "total_tokens": self.spend.total_tokens,
                "cost_usd": round(self.spend.cost_usd, 6),
                "estimated": not usage.reported,
            },
            prompt_tokens=task.prompt_tokens,
            completion_tokens=task.completion_tokens,
            cost_usd=task.cost_usd,
        )
        limits = self._limits
        if self.spend.total_tokens > limits.max_tokens:
            raise await self._stopped(
                "token_budget",
                f"token budget of {limits.max_tokens} tokens used up ({self.spend.total_tokens} tokens used)",
            )
        if self.spend.cost_usd > limits.max_cost_usd:
            raise await self._stopped(
                "cost_budget", f"cost budget of ${limits.max_cost_usd:g} used up (${self.spend.cost_usd:.4f} spent)"
            )

    async def _count_error(self, result: ToolResult) -> None:
        if not result.malformed:
            self._errors_in_row = 0
            return
        self._errors_in_row += 1
        if self._errors_in_row > self._limits.max_tool_errors:
            raise await self._stopped(
                "tool_errors",
                f"{self._errors_in_row} malformed tool calls in a row (last: {result.content.removeprefix('error: ')})",
            )

    async def _stopped(self, reason: str, message: str) -> AgentStopped:
        """The stop to raise, once announced."""
        self._queue("agent.stopped", {"step": self.step, "reason": reason, "message": message})
        await self._flush()
        return AgentStopped(reason, message)

    def _outcome(self, summary: str) -> AgentOutcome:
        return AgentOutcome(redact(summary, self._secrets).strip(), self.step, self.spend)

    def _shown(self, raw: str) -> Any:
        """A call's arguments for its event: the object, its long strings cut; or the text it sent."""
        try:
            arguments = json.loads(raw)
        except ValueError:
            return shorten(redact(raw, self._secrets), EVENT_TEXT_CHARS)
        if not isinstance(arguments, dict):
            return shorten(redact(raw, self._secrets), EVENT_TEXT_CHARS)
        return {
            key: shorten(redact(value, self._secrets), EVENT_TEXT_CHARS) if isinstance(value, str) else value
            for key, value in arguments.items()
        }

    def _queue(self, type: str, data: dict[str, Any], **task_changes: Any) -> None:
        self._pending.append((type, data))
        self._pending_changes.update(task_changes)

    async def _flush(self) -> None:
        if self._pending:
            events, changes = self._pending, self._pending_changes
            self._pending, self._pending_changes = [], {}
            await self._reporter.emit_all(events, **changes)

    async def _report(self, type: str, data: dict[str, Any]) -> None:
        """One event at once (what streams), after the ones waiting."""
        self._queue(type, data)
        await self._flush()
