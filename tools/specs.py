"""Slicing the official OpenAPI descriptions: the `$ref`s a part of a document makes, and the components
those name (and every component they name in turn), unchanged.

The spec regenerators import it, both run by people when the official descriptions change:
`backend_tests/contracts/specs/regenerate.py` (the responses the contract suite checks) and
`python -m reliability_tests.security.specs.regenerate` (the requests the fuzz gate sends).
"""

from __future__ import annotations

from typing import Any


def references(node: Any) -> set[str]:
    """Every `$ref` in `node`, e.g. "#/components/schemas/Error"."""
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= references(value)
        return found
    if isinstance(node, list):
        return set().union(*(references(item) for item in node)) if node else set()
    return set()


def components(document: dict[str, Any], refs: set[str]) -> dict[str, dict[str, Any]]:
    """The components `refs` name and every component they reference in turn, unchanged: {kind: {name: node}}."""
    kept: dict[str, dict[str, Any]] = {}
    pending = set(refs)
    seen: set[str] = set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        _, _, kind, name = ref.split("/", 3)
        node = document["components"][kind][name]
        kept.setdefault(kind, {})[name] = node
        pending |= references(node) - seen
    return kept
