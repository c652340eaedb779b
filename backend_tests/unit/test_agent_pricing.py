"""The agent's price table: what a model's tokens cost, for dated model names, for a model the table does
not know, and with the prices a deployment sets itself."""

import pytest

from app.agent.pricing import PRICES, Price, price_of

pytestmark = [pytest.mark.unit, pytest.mark.priority_p1]


@pytest.mark.parametrize(
    ("model", "prompt", "completion", "usd"),
    [
        ("gpt-4o-mini", 1_000_000, 1_000_000, 0.75),
        ("gpt-4o", 200_000, 50_000, 1.0),
        ("gpt-4.1-mini", 1_000_000, 0, 0.40),
        ("gpt-3.5-turbo", 0, 2_000_000, 3.0),
    ],
)
def test_each_model_of_the_table_costs_its_input_and_output_prices_per_million_tokens(model, prompt, completion, usd):
    assert price_of(model).cost(prompt, completion) == pytest.approx(usd)


def test_a_dated_model_is_priced_as_the_model_it_is_a_version_of():
    assert price_of("gpt-4o-mini-2024-07-18") == PRICES["gpt-4o-mini"]
    assert price_of("gpt-4o-2024-08-06") == PRICES["gpt-4o"]


def test_a_model_the_table_does_not_know_is_priced_at_the_dearest_entry():
    assert price_of("tiny") == PRICES["gpt-4o"]
    assert price_of("gpt-4o-minimal") == PRICES["gpt-4o"], "a name is a version only after a dash"


def test_prices_a_deployment_sets_replace_the_table_for_every_model():
    own = Price(input_per_mtok=1.0, output_per_mtok=3.0)

    assert price_of("gpt-4o-mini", own) == own
    assert price_of("llama-3-70b", own).cost(500_000, 500_000) == pytest.approx(2.0)
