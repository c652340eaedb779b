"""The LLM's settings: the prices a deployment sets come in pairs and replace the table's in the
pipeline, and the LLM key is one of the secrets every log line and event is cleaned of."""

import pytest
from pydantic import ValidationError

from app.agent.pricing import PRICES, Price
from app.settings import Settings

pytestmark = [pytest.mark.unit, pytest.mark.priority_p1]


def test_a_price_for_input_without_one_for_output_is_refused_naming_both():
    with pytest.raises(ValidationError, match="set both LLM_PRICE_INPUT_PER_MTOK and LLM_PRICE_OUTPUT_PER_MTOK"):
        Settings(llm_price_input_per_mtok=1.0)


async def test_the_prices_a_deployment_sets_are_the_pipelines(inprocess_settings, db_connection, llm_routes):
    from app.runtime import Runtime

    settings = inprocess_settings.model_copy(
        update={"llm_model": "llama-3-70b", "llm_price_input_per_mtok": 0.5, "llm_price_output_per_mtok": 0.7}
    )
    priced = Runtime(settings, bind=db_connection)
    unpriced = Runtime(inprocess_settings.model_copy(update={"llm_model": "llama-3-70b"}), bind=db_connection)
    try:
        assert priced.pipeline.services.llm_price == Price(0.5, 0.7)
        assert unpriced.pipeline.services.llm_price == PRICES["gpt-4o"], "unknown: the dearest of the table"
    finally:
        for runtime in (priced, unpriced):
            await runtime.__aexit__(None, None, None)


def test_the_llm_key_is_a_secret_of_the_platform():
    settings = Settings(llm_api_key="sk-deployment-key-0000000000000000", github_token="ghp_x" * 8)

    assert "sk-deployment-key-0000000000000000" in settings.secrets()
    assert "sk-deployment-key" not in repr(settings)
