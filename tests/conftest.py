"""Shared fixtures. Tests derive what they expect from the host's instruction set (helpers.HOST_ISA)."""

from __future__ import annotations

import os

import pytest
from helpers import HOST


@pytest.fixture(scope="session")
def host():
    """This CPU as an llvm target with num-cores."""
    return HOST


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: absent under -p no:xdist
def pytest_xdist_auto_num_workers(config):
    """`-n auto`: one worker per core this process may use, at most 4. Each test's kernels and
    builders already use every core; more workers than 4 buy little and each holds TVM, PyTorch and
    ONNX Runtime in memory."""
    return max(1, min(len(os.sched_getaffinity(0)), 4))
