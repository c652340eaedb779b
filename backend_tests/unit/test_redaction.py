"""Redaction (app/redaction.py): whole texts, and texts said piece by piece as they stream, where a
secret may arrive split across pieces."""

import itertools
import random

import pytest

from app.redaction import REDACTED, StreamRedactor, redact, releasable

pytestmark = [pytest.mark.unit, pytest.mark.priority_p0]

TOKEN = "ghp_streamedCanaryToken0123456789abcdef"
KEY = "sk-streamedCanaryKey"
SECRETS = (TOKEN, KEY)
TEXT = f"The token is {TOKEN}, the key {KEY}{KEY}; ghp_ and sk- alone are no secret. Again: {TOKEN}."


def said(pieces: list[str], secrets: tuple[str, ...] = SECRETS) -> list[str]:
    """What a StreamRedactor says for each piece, in order."""
    redactor = StreamRedactor(secrets)
    return [redactor.add(piece) for piece in pieces]


def cut(text: str, at: list[int]) -> list[str]:
    bounds = [0, *sorted(at), len(text)]
    return [text[start:end] for start, end in itertools.pairwise(bounds)]


def test_redact_replaces_every_secret():
    assert redact(TEXT, SECRETS) == (
        f"The token is {REDACTED}, the key {REDACTED}{REDACTED}; ghp_ and sk- alone are no secret. Again: {REDACTED}."
    )


def test_a_secret_arriving_one_character_at_a_time_is_never_said():
    pieces = said(list(TEXT))

    joined = "".join(pieces)
    assert [secret for secret in SECRETS if secret in joined] == []
    assert redact(TEXT, SECRETS).startswith(joined)


@pytest.mark.parametrize("seed", range(20))
def test_a_secret_split_anywhere_across_pieces_is_never_said(seed):
    rng = random.Random(seed)
    at = rng.sample(range(1, len(TEXT)), rng.randint(1, 30))

    pieces = said(cut(TEXT, at))

    joined = "".join(pieces)
    assert [secret for secret in SECRETS if secret in joined] == [], f"cut at {sorted(at)}: {pieces}"
    assert redact(TEXT, SECRETS).startswith(joined), f"cut at {sorted(at)}: {pieces}"


def test_the_start_of_a_secret_is_held_back_until_what_follows_tells():
    redactor = StreamRedactor(SECRETS)

    assert redactor.add("see ghp_stream") == "see "
    assert redactor.add("edCanary and more") == "ghp_streamedCanary and more", "it was no secret after all"
    assert redactor.add(f"then {TOKEN[:10]}") == "then "
    assert redactor.add(f"{TOKEN[10:]} end") == f"{REDACTED} end"


def test_text_that_cannot_start_a_secret_is_said_at_once():
    assert said(["Looking at calc.py", " first, then its tests."]) == [
        "Looking at calc.py",
        " first, then its tests.",
    ]


def test_without_secrets_everything_is_said_at_once():
    assert said(["ghp_", "sk-"], secrets=("", "")) == ["ghp_", "sk-"]


def test_the_release_point_never_falls_inside_a_whole_secret():
    # The text ends with "sk-" (the start of KEY), inside a whole TOKEN-like secret that holds it.
    inner = "abc-sk-"
    text = f"x {inner}"

    end = releasable(text, (inner, KEY))

    assert end == 2, "a cut at the start of sk- would leave the whole secret half-matched"
