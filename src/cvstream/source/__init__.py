"""The only package that imports the anthropic SDK (about 1 s): import it late, and only to send a request.

It turns either SDK streaming method into cvstream's typed events (`events.py`) and SDK or transport
exceptions into cvstream errors (`errors.py`):

- `create`: `client.messages.create(..., stream=True)`, read through the SDK's public
  `Stream.raw_events()` (server-sent events before any parsing), so nothing grows with the answer and
  `--json` sees every event as sent, pings included.
- `stream`: the `client.messages.stream()` helper; `get_final_message()` gives the final usage. For
  `--json`, a response hook on the `http_client` cvstream passes in feeds the same bytes to cvstream's
  own SSE decoder, so every event is shown as sent (the helper drops pings). A stream the helper cannot
  accumulate is an incomplete response (exit 6), the same here and in `serve`.

Only public SDK API is used (a ruff rule bans `anthropic._*`). Every error made from upstream text is
redacted here, when it is made, with the connection's secrets.

Retries are cvstream's, not the SDK's (the client has `max_retries=0`): each one is announced as a
`Retrying` event, and a `retry-after` longer than `max_retry_wait` is refused instead of obeyed.

Modules: `connection` (what to send and where), `failures` (SDK and transport exceptions -> cvstream
errors, retry planning), `wire` (wire and helper events -> cvstream events), `client` (the sync client and
`stream_events`), `aio` (the async client for `serve`), `catalog` (models and token counting).
"""

from cvstream.source.aio import astream_events, make_async_client
from cvstream.source.catalog import count_tokens, list_models, retrieve_model
from cvstream.source.client import Client, make_client, stream_events
from cvstream.source.connection import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_RETRY_WAIT,
    DEFAULT_READ_TIMEOUT,
    Connection,
    Request,
)
from cvstream.source.failures import backoff, connection_error, retry_after, status_error

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_MAX_RETRY_WAIT",
    "DEFAULT_READ_TIMEOUT",
    "Client",
    "Connection",
    "Request",
    "astream_events",
    "backoff",
    "connection_error",
    "count_tokens",
    "list_models",
    "make_async_client",
    "make_client",
    "retrieve_model",
    "retry_after",
    "status_error",
    "stream_events",
]
