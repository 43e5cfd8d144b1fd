"""Shared by the tests/test_batch*.py files: a CVSTREAM_HOME of each test's own, and the mock's batch endpoints."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cvstream.mock.batches import BatchConfig
from cvstream.mock.server import MockServer
from tests.conftest import Result

Cli = Callable[..., Result]


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def bcli(cli: Cli, state: Path) -> Cli:
    """`cli` with its own CVSTREAM_HOME (the batch jobs and the history), never the user's data directory."""

    def run(*args: str, base_url: str | None = None, **kwargs: Any) -> Result:
        env = {"CVSTREAM_HOME": str(state), **dict(kwargs.pop("env", None) or {})}
        return cli(*args, base_url=base_url, env=env, **kwargs)

    return run


def batch_mock(mock_server: Callable[..., MockServer], **batch: Any) -> MockServer:
    """A mock whose batches end at once unless `seconds` says otherwise; `batch` sets BatchConfig's fields."""
    return mock_server(batch=BatchConfig(**{"seconds": 0.0, **batch}))
