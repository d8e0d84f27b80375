"""Fixtures of the tamarco-http functional tests: servers on free ports, a client session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest


@pytest.fixture
async def http_session() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session (not the resource under test) to talk to the servers."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        yield session
