"""`documented(...)`: the error statuses a route declares in the OpenAPI document, each with the Problem
shape and the description of what it means."""

import pytest

from app.api.errors import PROBLEMS, Problem, documented

pytestmark = [pytest.mark.unit, pytest.mark.priority_p2]


def test_each_status_is_documented_with_the_problem_shape_and_its_meaning():
    assert documented(401, 503) == {
        401: {"model": Problem, "description": PROBLEMS[401]},
        503: {"model": Problem, "description": PROBLEMS[503]},
    }


def test_no_status_documents_nothing():
    assert documented() == {}
