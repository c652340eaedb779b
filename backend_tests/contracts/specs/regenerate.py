"""Regenerate the subset of the official API descriptions that the contract tests validate against.

    python backend_tests/contracts/specs/regenerate.py [SPECS_DIR]

SPECS_DIR holds the unmodified descriptions (default: $AGENT_SQUAD_SPECS or ../shared/specs next to
the repository): github/api.github.com.json (npm @octokit/openapi), e2b/openapi.yml and
e2b/envd/envd.yaml (e2b-dev/E2B), openai/openapi.yaml (openai/openai-openapi). For every operation the
fakes serve, the output keeps its responses (status -> JSON schema, or the content type of a non-JSON
answer; an answer that may also be a server-sent event stream keeps the schema of one event's data as
`event_stream_schema`), plus every component schema those and a few named roots reference, unchanged.
github.webhooks.json keeps the payload schemas of the webhook events the fake GitHub delivers (from the
description's `x-webhooks`) the same way. Each output file names its source and version.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from tools.specs import components, references

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parents[3] / "shared" / "specs"
SPECS_VARIABLE = "AGENT_SQUAD_SPECS"
E2B_COMMIT = "b8029973aa7da5f741f7bb1a9f833b38a0885438"  # the commit of e2b-dev/E2B the specs were taken from
OPENAI_COMMIT = "f85dbe223d40e1a31cba812ab2d755c7e98a92a3"  # the commit of openai/openai-openapi

# The operations the fakes serve, as "METHOD /path/template" of each description.
GITHUB_OPERATIONS = [
    "GET /repos/{owner}/{repo}",
    "GET /repos/{owner}/{repo}/branches/{branch}",
    "GET /repos/{owner}/{repo}/git/ref/{ref}",
    "GET /repos/{owner}/{repo}/pulls",
    "POST /repos/{owner}/{repo}/pulls",
    "GET /repos/{owner}/{repo}/pulls/{pull_number}",
    "PATCH /repos/{owner}/{repo}/pulls/{pull_number}",
    "PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge",
    "GET /repos/{owner}/{repo}/pulls/{pull_number}/merge",
    "GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews",
    "POST /repos/{owner}/{repo}/pulls/{pull_number}/reviews",
    "GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}",
    "GET /repos/{owner}/{repo}/pulls/{pull_number}/comments",
    "POST /repos/{owner}/{repo}/pulls/{pull_number}/comments",
    "GET /repos/{owner}/{repo}/issues/{issue_number}/comments",
    "POST /repos/{owner}/{repo}/issues/{issue_number}/comments",
    "GET /repos/{owner}/{repo}/hooks",
    "POST /repos/{owner}/{repo}/hooks",
    "GET /repos/{owner}/{repo}/hooks/{hook_id}",
    "PATCH /repos/{owner}/{repo}/hooks/{hook_id}",
    "DELETE /repos/{owner}/{repo}/hooks/{hook_id}",
    "GET /repos/{owner}/{repo}/hooks/{hook_id}/config",
    "PATCH /repos/{owner}/{repo}/hooks/{hook_id}/config",
    "POST /repos/{owner}/{repo}/hooks/{hook_id}/pings",
    "POST /repos/{owner}/{repo}/hooks/{hook_id}/tests",
    "GET /repos/{owner}/{repo}/hooks/{hook_id}/deliveries",
    "GET /repos/{owner}/{repo}/hooks/{hook_id}/deliveries/{delivery_id}",
    "POST /repos/{owner}/{repo}/hooks/{hook_id}/deliveries/{delivery_id}/attempts",
    "GET /rate_limit",
]
# The webhook events the fake GitHub delivers, as keys of the description's `x-webhooks` ("<event>-<action>").
GITHUB_WEBHOOKS = [
    "ping",
    "push",
    "pull-request-opened",
    "pull-request-edited",
    "pull-request-closed",
    "pull-request-reopened",
    "pull-request-synchronize",
    "pull-request-review-submitted",
    "pull-request-review-comment-created",
    "issue-comment-created",
]
E2B_OPERATIONS = [
    "GET /health",
    "POST /sandboxes",
    "GET /sandboxes",
    "GET /v2/sandboxes",
    "GET /sandboxes/{sandboxID}",
    "DELETE /sandboxes/{sandboxID}",
    "POST /sandboxes/{sandboxID}/timeout",
    "POST /sandboxes/{sandboxID}/refreshes",
    "POST /sandboxes/{sandboxID}/pause",
    "POST /sandboxes/{sandboxID}/resume",
    "POST /sandboxes/{sandboxID}/connect",
]
ENVD_OPERATIONS = ["GET /health", "GET /files", "POST /files"]
OPENAI_OPERATIONS = ["POST /chat/completions", "GET /models", "GET /models/{model}"]
# Component schemas kept besides those of the operations (tests check bodies against them by name).
GITHUB_ROOTS = ["basic-error", "validation-error"]
E2B_ROOTS = ["Error", "NewSandbox"]
ENVD_ROOTS = ["Error"]
OPENAI_ROOTS = ["ErrorResponse", "CreateChatCompletionResponse", "CreateChatCompletionStreamResponse"]
EVENT_STREAM = "text/event-stream"
SCHEMA_PREFIX = "#/components/schemas/"
RESPONSE_PREFIX = "#/components/responses/"


def operation_responses(document: dict[str, Any], key: str) -> dict[str, Any]:
    """{status: {"schema": JSON schema or None, "content_type": str or None}} of one operation."""
    method, path = key.split(" ", 1)
    operation = document["paths"][path][method.lower()]
    responses = {}
    for status, response in operation["responses"].items():
        if "$ref" in response:
            response = document["components"]["responses"][response["$ref"].removeprefix(RESPONSE_PREFIX)]
        content = response.get("content") or {}
        if "application/json" in content:
            responses[str(status)] = {
                "content_type": "application/json",
                "schema": content["application/json"]["schema"],
            }
            if EVENT_STREAM in content:
                responses[str(status)]["event_stream_schema"] = content[EVENT_STREAM]["schema"]
        else:
            responses[str(status)] = {"content_type": next(iter(content), None), "schema": None}
    return {"operationId": operation.get("operationId"), "responses": responses}


def extract(document: dict[str, Any], operations: list[str], roots: list[str]) -> dict[str, Any]:
    kept = {key: operation_responses(document, key) for key in operations}
    refs = {SCHEMA_PREFIX + name for name in roots} | {ref for ref in references(kept) if ref.startswith(SCHEMA_PREFIX)}
    schemas = components(document, refs).get("schemas", {})
    return {"operations": kept, "components": {"schemas": dict(sorted(schemas.items()))}}


def extract_webhooks(document: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """{"webhooks": {name: {"operationId", "headers", "content": {content type: schema}}}, "components"}:
    the payload schemas of the webhook events `names` (with the headers their deliveries carry)."""
    kept = {}
    for name in names:
        post = document["x-webhooks"][name]["post"]
        kept[name] = {
            "operationId": post.get("operationId"),
            "headers": [parameter["name"] for parameter in post.get("parameters", []) if parameter["in"] == "header"],
            "content": {kind: body["schema"] for kind, body in post["requestBody"]["content"].items()},
        }
    refs = {ref for ref in references(kept) if ref.startswith(SCHEMA_PREFIX)}
    schemas = components(document, refs).get("schemas", {})
    return {"webhooks": kept, "components": {"schemas": dict(sorted(schemas.items()))}}


def write(name: str, source: str, extracted: dict[str, Any]) -> None:
    (HERE / name).write_text(json.dumps({"source": source, **extracted}, indent=1) + "\n")


def official_descriptions(given: str | None = None) -> Path:
    """Where the unmodified descriptions are: `given`, else $AGENT_SQUAD_SPECS, else DEFAULT_SOURCE."""
    return Path(given or os.environ.get(SPECS_VARIABLE) or DEFAULT_SOURCE)


def main(argv: list[str]) -> None:
    source = official_descriptions(argv[1] if len(argv) > 1 else None)
    yaml = YAML(typ="safe")
    github = json.loads((source / "github" / "api.github.com.json").read_text())
    write(
        "github.schemas.json",
        f"npm @octokit/openapi {github['info'].get('version', '?')}, generated/api.github.com.json (MIT)",
        extract(github, GITHUB_OPERATIONS, GITHUB_ROOTS),
    )
    write(
        "github.webhooks.json",
        f"npm @octokit/openapi {github['info'].get('version', '?')}, generated/api.github.com.json x-webhooks (MIT)",
        extract_webhooks(github, GITHUB_WEBHOOKS),
    )
    e2b = yaml.load((source / "e2b" / "openapi.yml").read_text())
    write(
        "e2b.schemas.json",
        f"e2b-dev/E2B spec/openapi.yml (E2B API {e2b['info']['version']}) at commit {E2B_COMMIT} (Apache-2.0)",
        extract(e2b, E2B_OPERATIONS, E2B_ROOTS),
    )
    envd = yaml.load((source / "e2b" / "envd" / "envd.yaml").read_text())
    write(
        "envd.schemas.json",
        f"e2b-dev/E2B spec/envd/envd.yaml (envd API {envd['info']['version']}) at commit {E2B_COMMIT} (Apache-2.0)",
        extract(envd, ENVD_OPERATIONS, ENVD_ROOTS),
    )
    openai = yaml.load((source / "openai" / "openapi.yaml").read_text())
    write(
        "openai.schemas.json",
        f"openai/openai-openapi openapi.yaml (OpenAI API {openai['info']['version']}) at commit {OPENAI_COMMIT} (MIT)",
        extract(openai, OPENAI_OPERATIONS, OPENAI_ROOTS),
    )
    shutil.copyfile(source / "github" / "LICENSE", HERE / "LICENSE.github")
    shutil.copyfile(source / "e2b" / "LICENSE", HERE / "LICENSE.e2b")
    shutil.copyfile(source / "openai" / "LICENSE", HERE / "LICENSE.openai")


if __name__ == "__main__":
    main(sys.argv)
