"""A squad's repository is a name GitHub itself would accept: the owner's and the repository's rules."""

import pytest
from pydantic import ValidationError

from app.schemas import SquadCreate

pytestmark = [pytest.mark.unit, pytest.mark.priority_p1]

ACCEPTED = [
    "acme/webapp",
    "a/b",
    "Acme-Corp/web.app_2",
    "a1-b2-c3/x",
    "a" * 39 + "/x",
    "acme/" + "x" * 100,
    "acme/...",  # three dots is a name GitHub takes; only "." and ".." are paths
    "acme/.github",
    "acme/-leading-hyphen",
]
REFUSED = {
    "double-dot name": "owner/..",
    "dot name": "owner/.",
    "dot-dot owner": "../x",
    "traversal": "a/b/../../c",
    "leading hyphen owner": "-rf/x",
    "trailing hyphen owner": "acme-/x",
    "double hyphen owner": "ac--me/x",
    "owner over 39": "a" * 40 + "/x",
    "name over 100": "acme/" + "x" * 101,
    "no slash": "-rf",
    "command substitution": "$(id)/x",
    "backticks in name": "acme/`id`",
    "percent-encoded dots": "%2e%2e/x",
    "encoded slash": "acme%2fx/y",
    "underscore owner": "ac_me/x",
    "dot owner": "ac.me/x",
    "cyrillic a": "\u0430cme/x",
    "fullwidth letters": "\uff41cme/x",
    "zero-width space": "ac\u200bme/x",
    "space inside": "acme/x y",
    "newline inside": "acme/x\ny",
    "nul": "acme/x\x00",
    "empty owner": "/x",
    "empty name": "acme/",
    "three parts": "acme/x/y",
    "query": "acme/x?y=1",
    "fragment": "acme/x#y",
}


@pytest.mark.parametrize("repository", ACCEPTED)
def test_a_name_github_accepts_is_taken(repository):
    assert SquadCreate(name="squad", repository=repository).repository == repository


@pytest.mark.parametrize("repository", REFUSED.values(), ids=REFUSED.keys())
def test_a_name_github_would_refuse_is_refused_with_the_rule_it_breaks(repository):
    with pytest.raises(ValidationError) as refused:
        SquadCreate(name="squad", repository=repository)

    [problem] = refused.value.errors()
    assert problem["loc"] == ("repository",), problem
    assert any(rule in problem["msg"] for rule in ("owner", "name", "NUL")), f"no rule named: {problem['msg']}"
