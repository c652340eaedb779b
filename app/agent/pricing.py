"""What a model's tokens cost, for the agent's cost budget (AGENT_MAX_COST_USD).

Prices are USD per million tokens, input (the prompt) and output (the completion), as OpenAI lists
them for its standard tier. A model is priced by the table's entry of its name, or of the name it is a
dated version of ("gpt-4o-2024-08-06" is "gpt-4o"). LLM_PRICE_INPUT_PER_MTOK and
LLM_PRICE_OUTPUT_PER_MTOK, when set, replace the table for every model. A model the table does not
know, without them, is priced at the table's dearest entry: the budget then stops an agent early
rather than late.
"""

from dataclasses import dataclass

TOKENS_PER_PRICE_UNIT = 1_000_000


@dataclass(frozen=True)
class Price:
    input_per_mtok: float
    output_per_mtok: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """USD of one turn's tokens."""
        return (prompt_tokens * self.input_per_mtok + completion_tokens * self.output_per_mtok) / TOKENS_PER_PRICE_UNIT


PRICES = {
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-3.5-turbo": Price(0.50, 1.50),
}
UNKNOWN_MODEL_PRICE = max(PRICES.values(), key=lambda price: (price.output_per_mtok, price.input_per_mtok))


def price_of(model: str, override: Price | None = None) -> Price:
    """The price the budget applies to `model`'s tokens (see the module's rule)."""
    if override is not None:
        return override
    # Longest name first: "gpt-4o-mini-2024-07-18" is a gpt-4o-mini, not a gpt-4o.
    for name in sorted(PRICES, key=len, reverse=True):
        if model == name or model.startswith(f"{name}-"):
            return PRICES[name]
    return UNKNOWN_MODEL_PRICE
