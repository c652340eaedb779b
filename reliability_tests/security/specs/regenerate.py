"""Regenerate the request side of the official API descriptions, for fuzzing the fakes.

    python -m reliability_tests.security.specs.regenerate [SPECS_DIR]

contracts/specs keeps the responses of every operation the fakes serve; this keeps the same operations
whole (parameters, request bodies, responses) as an OpenAPI document schemathesis can generate requests
from, with every component they reference, unchanged; the slicing (tools/specs.py) is that of
contracts/specs/regenerate.py, and SPECS_DIR is as there.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from tools.specs import components, references

HERE = Path(__file__).resolve().parent
CONTRACT_SPECS = HERE.parents[2] / "backend_tests" / "contracts" / "specs"
DEFAULT_SOURCE = HERE.parents[3] / "shared" / "specs"
SOURCES = {"github": "github/api.github.com.json", "e2b": "e2b/openapi.yml"}


def load(path: Path) -> dict[str, Any]:
    if path.suffix == ".json":
        return json.loads(path.read_text())
    return json.loads(json.dumps(YAML(typ="safe").load(path.read_text())))


def subset(official: dict[str, Any], operations: list[str]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for key in operations:
        method, template = key.split(" ", 1)
        item = official["paths"][template]
        kept = paths.setdefault(template, {})
        if "parameters" in item:
            kept["parameters"] = item["parameters"]
        kept[method.lower()] = item[method.lower()]
    document = {key: official[key] for key in ("openapi", "info") if key in official}
    document["servers"] = [{"url": "/"}]
    document["paths"] = paths
    document["components"] = components(official, references(paths))
    return document


def main(argv: list[str]) -> int:
    source = Path(argv[0] if argv else os.environ.get("AGENT_SQUAD_SPECS", DEFAULT_SOURCE))
    for service, relative in SOURCES.items():
        operations = list(json.loads((CONTRACT_SPECS / f"{service}.schemas.json").read_text())["operations"])
        document = subset(load(source / relative), operations)
        target = HERE / f"{service}.requests.json"
        target.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
        sys.stdout.write(f"{target.name}: {len(operations)} operations, from {source / relative}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
