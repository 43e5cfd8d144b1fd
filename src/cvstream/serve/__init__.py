"""`cvstream serve`: the web app's streaming route (plain ASGI on uvicorn, the SDK's async client).

Shares prompt building (`prompt.py`), the SDK module (`source.astream_events`) and the SSE framing
(`sinks/sse.py`) with the CLI; only the sink differs. Imported only by the `serve` command, so no
other command pays for the server stack.

- `http.py`: ASGI types, JSON answers, the per-request log record
- `guards.py`: Host, Origin, CORS preflight and token checks, before any route
- `body.py`: a POST body -> an API request, or a JSON 400/413 naming the problem
- `stream.py`: one streamed answer (disconnects, stalled readers, waiting comments, errors, shutdown)
- `app.py`: the routes, the concurrency limit, one log line per request
- `log.py`: the non-blocking request log
- `server.py`: uvicorn, the socket (TCP_NODELAY), signals and the shutdown after `--grace`
"""

from cvstream.serve.app import App, ServeConfig, create_app
from cvstream.serve.server import Server, bind, is_loopback, serve

__all__ = ["App", "ServeConfig", "Server", "bind", "create_app", "is_loopback", "serve"]
