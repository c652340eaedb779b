"""Backend suite: asyncio tests of the platform, in-process with respx fakes or against the live stack.

Shared fixtures (live stack, factories, clients) come from fixtures/plugin.py.
"""
