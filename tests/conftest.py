"""Shared fixtures. Tests derive what they expect from the host's instruction set (helpers.HOST_ISA)."""

from __future__ import annotations

import pytest
from helpers import HOST


@pytest.fixture(scope="session")
def host():
    """This CPU as an llvm target with num-cores."""
    return HOST
