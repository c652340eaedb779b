"""Fake of E2B: the control-plane REST API (sandbox lifecycle) and envd (commands run for real)."""

from mocks.e2b.state import FakeE2B, Sandbox

__all__ = ["FakeE2B", "Sandbox"]
