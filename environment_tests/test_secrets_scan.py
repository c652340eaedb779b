"""The secrets scan finds every GitHub token a platform was given: the canaries of a platform given several
(by their shape), and the tokens of GITHUB_EXTRA_TOKENS a run names, plain or in base64."""

import base64

import pytest

from fixtures.credentials import canary_github_tokens
from tools.secrets_scan import scan_bytes, secrets_to_find

pytestmark = [pytest.mark.unit, pytest.mark.priority_p1]


def test_the_further_canary_tokens_of_a_platform_given_several_are_found_by_their_shape():
    third = canary_github_tokens(3)[2]

    found = list(scan_bytes("platform.log", f"token={third}".encode(), secrets_to_find({})))

    assert [finding.kind for finding in found] == ["GitHub token (a canary of a platform given several)"]


def test_the_extra_tokens_a_run_names_are_found_plain_and_in_base64():
    environ = {
        "GITHUB_EXTRA_TOKENS": "ghp_realExtraTokenNumberOne0000000000001, ghp_realExtraTokenNumberTwo0000000000002"
    }
    second = "ghp_realExtraTokenNumberTwo0000000000002"
    basic = base64.b64encode(f"x-access-token:{second}".encode())

    found = list(scan_bytes("trace.zip", b"Authorization: Basic " + basic, secrets_to_find(environ)))

    assert [finding.kind for finding in found] == ["GitHub token (token 2 of GITHUB_EXTRA_TOKENS)"]
