"""Shared fixtures and the marker that skips VNNI tests on CPUs without it."""

from __future__ import annotations

import pytest
from helpers import HAS_VNNI, HOST


def pytest_collection_modifyitems(config, items):  # pylint: disable=unused-argument
    skip = pytest.mark.skip(reason="this CPU has no AVX-512 VNNI")
    for item in items:
        if "vnni" in item.keywords and not HAS_VNNI:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def host():
    """This CPU as an llvm target with num-cores."""
    return HOST
