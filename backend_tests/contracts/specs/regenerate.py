"""Regenerate the subset of the official API descriptions that the contract tests validate against.

    python backend_tests/contracts/specs/regenerate.py [SPECS_DIR]

SPECS_DIR holds the unmodified descriptions (default: $AGENT_SQUAD_SPECS or ../shared/specs next to
the repository): github/api.github.com.json (npm @octokit/openapi) and e2b/openapi.yml (e2b-dev/E2B).
Only the component schemas the fakes answer with, and everything they reference, are kept, unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parents[3] / "shared" / "specs"

GITHUB_ROOTS = [
    "full-repository",
    "pull-request",
    "pull-request-simple",
    "rate-limit-overview",
    "basic-error",
    "validation-error",
]
E2B_ROOTS = ["Sandbox", "SandboxDetail", "ListedSandbox", "Error", "NewSandbox"]
REF_PREFIX = "#/components/schemas/"


def references(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].removeprefix(REF_PREFIX)} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= references(value)
        return found
    if isinstance(node, list):
        return set().union(*(references(item) for item in node)) if node else set()
    return set()


def closure(schemas: dict[str, Any], roots: list[str]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name not in kept:
            kept[name] = schemas[name]
            pending.extend(references(schemas[name]) - kept.keys())
    return dict(sorted(kept.items()))


def write(name: str, source: str, schemas: dict[str, Any]) -> None:
    document = {"source": source, "components": {"schemas": schemas}}
    (HERE / name).write_text(json.dumps(document, indent=1, sort_keys=False) + "\n")


def main(argv: list[str]) -> None:
    source = Path(argv[1] if len(argv) > 1 else os.environ.get("AGENT_SQUAD_SPECS", DEFAULT_SOURCE))
    github = json.loads((source / "github" / "api.github.com.json").read_text())
    write(
        "github.schemas.json",
        f"npm @octokit/openapi {github['info'].get('version', '?')}, generated/api.github.com.json (MIT)",
        closure(github["components"]["schemas"], GITHUB_ROOTS),
    )
    e2b = YAML(typ="safe").load((source / "e2b" / "openapi.yml").read_text())
    write(
        "e2b.schemas.json",
        "e2b-dev/E2B spec/openapi.yml at commit b8029973aa7da5f741f7bb1a9f833b38a0885438 (Apache-2.0)",
        closure(e2b["components"]["schemas"], E2B_ROOTS),
    )
    shutil.copyfile(source / "github" / "LICENSE", HERE / "LICENSE.github")
    shutil.copyfile(source / "e2b" / "LICENSE", HERE / "LICENSE.e2b")


if __name__ == "__main__":
    main(sys.argv)
