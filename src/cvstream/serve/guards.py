"""Checks every request passes before any route runs (plain ASGI, so streams are never buffered).

In order: the `Host` header (DNS rebinding), the `Origin` header (a web page spending the key), the CORS
preflight, then the bearer token. Each refusal is a JSON error and is logged; none reaches upstream.
The POST routes' `Content-Type: application/json` check lives with the routes (`app.py`), since it
depends on the route.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable

from cvstream.serve.http import ASGIApp, Message, Receive, Scope, Send, header, refuse

ALLOW_METHODS = b"GET, POST, OPTIONS"
ALLOW_HEADERS = b"authorization, content-type"
UNAUTHENTICATED = ("/healthz",)


def hostname(host: str) -> str:
    """The name part of a `Host` header (`[::1]:8000` -> `::1`), lower case, without a trailing dot."""
    host = host.strip().lower()
    if host.startswith("["):
        name = host[1 : host.find("]")] if "]" in host else host[1:]
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return name.rstrip(".")


def normal_origin(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


class HostCheck:
    """Names a `Host` header may carry: the bound address, `localhost`, loopback addresses, `--allowed-host`.

    On a wildcard bind (0.0.0.0, ::) any IP address is accepted as well: DNS rebinding needs a name.
    """

    def __init__(self, bound: str, allowed: Iterable[str] = ()) -> None:
        self.names = {"localhost", hostname(bound), *(hostname(name) for name in allowed)}
        try:
            self.wildcard = ipaddress.ip_address(hostname(bound)).is_unspecified
        except ValueError:
            self.wildcard = False

    def allows(self, host: str) -> bool:
        name = hostname(host)
        if name in self.names:
            return True
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            return False
        return address.is_loopback or self.wildcard


class Guards:
    def __init__(self, app: ASGIApp, hosts: HostCheck, cors_origins: Iterable[str], token: str | None) -> None:
        self.app = app
        self.hosts = hosts
        self.cors_origins = {normal_origin(o) for o in cors_origins}
        self.token = token.encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        host = header(scope, b"host")
        if host is not None and not self.hosts.allows(host):
            message = f"this server does not answer to Host {hostname(host)!r}; start it with --allowed-host NAME"
            await refuse(scope, send, 421, "host_not_allowed", message)
            return
        origin = header(scope, b"origin")
        if origin is not None:
            own = host is not None and normal_origin(origin) in (f"http://{host.lower()}", f"https://{host.lower()}")
            cors = normal_origin(origin) in self.cors_origins
            if not (own or cors):
                message = f"requests from the web origin {origin!r} are not allowed; start serve with --cors-origin"
                await refuse(scope, send, 403, "origin_not_allowed", message, [(b"vary", b"origin")])
                return
            if cors:
                send = _with_cors(send, origin)
                if scope["method"] == "OPTIONS" and header(scope, b"access-control-request-method") is not None:
                    await self._preflight(send)
                    return
        if self._needs_token(scope) and not self._authorized(header(scope, b"authorization")):
            message = "missing or wrong bearer token"
            await refuse(scope, send, 401, "unauthorized", message, [(b"www-authenticate", b"Bearer")])
            return
        await self.app(scope, receive, send)

    def _needs_token(self, scope: Scope) -> bool:
        return self.token is not None and scope["path"] not in UNAUTHENTICATED and scope["method"] != "OPTIONS"

    def _authorized(self, given: str | None) -> bool:
        assert self.token is not None
        scheme, _, value = (given or "").strip().partition(" ")
        # RFC 7235: the scheme is case-insensitive; the token is compared in constant time
        return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode("latin-1"), self.token)

    async def _preflight(self, send: Send) -> None:
        headers = [
            (b"access-control-allow-methods", ALLOW_METHODS),
            (b"access-control-allow-headers", ALLOW_HEADERS),
            (b"access-control-max-age", b"600"),
            (b"content-length", b"0"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def _with_cors(send: Send, origin: str) -> Send:
    """`send` that lets the page on `origin` read every answer, errors included."""
    extra = [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"origin")]

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return wrapped
