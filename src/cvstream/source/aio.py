"""The async client for `cvstream serve`: the same events, errors and retries as `stream_events`."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import anthropic
import anyio
import httpx2

from cvstream.errors import CvstreamError
from cvstream.events import Event, FinalUsage, MessageStarted, MessageStopped, Retrying
from cvstream.source.connection import Connection, Request
from cvstream.source.failures import error_event_error, helper_unreadable, plan_retry, truncated
from cvstream.source.wire import answer_errors, from_helper, translate, usage


def make_async_client(conn: Connection) -> anthropic.AsyncAnthropic:
    """One client for the server's whole life (its connection pool is shared by every request)."""
    return anthropic.AsyncAnthropic(
        api_key=conn.api_key,
        auth_token=conn.auth_token,
        base_url=conn.base_url,
        max_retries=0,
        timeout=conn.timeouts(),
    )


async def astream_events(
    client: anthropic.AsyncAnthropic, conn: Connection, request: Request, *, method: str = "create"
) -> AsyncGenerator[Event, None]:
    """`stream_events` for the async client: the same events, errors and retries (no raw events)."""
    params = request.params()
    attempt = 0
    while True:
        try:
            if method == "stream":
                message_stream = await client.messages.stream(**params).__aenter__()
                break
            create_stream = await client.messages.create(**params, stream=True)
            break
        except Exception as exc:
            wait, reason = plan_retry(exc, attempt, conn, request.model)
        attempt += 1
        yield Retrying(attempt, wait, reason)
        await anyio.sleep(wait)
    if method == "stream":
        async for event in _ahelper_events(message_stream, conn):
            yield event
    else:
        async for event in _acreate_events(create_stream, conn):
            yield event


async def _acreate_events(stream: anthropic.AsyncStream[Any], conn: Connection) -> AsyncIterator[Event]:
    stopped = False
    with answer_errors(conn):
        try:
            async for sse in anthropic.AsyncStream.raw_events(stream.response):
                for event in translate(sse.event, sse.data, False, conn):
                    stopped = stopped or isinstance(event, MessageStopped)
                    yield event
        finally:
            await stream.close()
    if not stopped:
        raise truncated()


async def _ahelper_events(message_stream: Any, conn: Connection) -> AsyncIterator[Event]:
    started = stopped = False
    with answer_errors(conn):
        try:
            try:
                async for event in message_stream:
                    for item in from_helper(event):
                        started = started or isinstance(item, MessageStarted)
                        stopped = stopped or isinstance(item, MessageStopped)
                        yield item
                if started:
                    yield FinalUsage(usage((await message_stream.get_final_message()).usage))
            except anthropic.APIStatusError as exc:
                raise error_event_error(exc.body, conn) from exc
            except (httpx2.HTTPError, ValueError, CvstreamError):
                raise
            except Exception as exc:
                raise helper_unreadable(exc) from exc
        finally:
            await message_stream.close()
    if not stopped:
        raise truncated()
