"""The non-streaming calls: the Models API (`models.list`, `models.retrieve`) and `messages.count_tokens`.

Each is retried like the start of a stream (`failures.plan_retry`: same statuses, same retry-after cap,
same errors), silently: they are short, and their callers say what they fell back to.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from cvstream.source.client import make_client
from cvstream.source.connection import Connection, Request
from cvstream.source.failures import plan_retry

T = TypeVar("T")
Sleep = Callable[[float], None]


def _with_retries(call: Callable[[], T], conn: Connection, model: str, sleep: Sleep) -> T:
    attempt = 0
    while True:
        try:
            return call()
        except Exception as exc:
            wait, _ = plan_retry(exc, attempt, conn, model)
        attempt += 1
        sleep(wait)


def list_models(conn: Connection, sleep: Sleep = time.sleep) -> list[dict[str, Any]]:
    """Every model the Models API lists (all pages; JSON-ready dicts), newest first."""
    with make_client(conn) as client:
        return _with_retries(
            lambda: [m.model_dump(mode="json") for m in client.models.list(limit=1000)], conn, "", sleep
        )


def retrieve_model(conn: Connection, model_id: str, sleep: Sleep = time.sleep) -> dict[str, Any]:
    with make_client(conn) as client:
        info = _with_retries(lambda: client.models.retrieve(model_id), conn, model_id, sleep)
        return info.model_dump(mode="json")


def count_tokens(conn: Connection, request: Request, sleep: Sleep = time.sleep) -> int:
    """The input tokens of `request` (messages/count_tokens: free, nothing generated)."""
    params = {k: v for k, v in request.params().items() if k != "max_tokens"}
    with make_client(conn) as client:
        counted = _with_retries(lambda: client.messages.count_tokens(**params), conn, request.model, sleep)
        return counted.input_tokens
