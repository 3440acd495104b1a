"""The request guard of the web explorer: every request passes it first.

The server listens on this machine and must not be driven by the web pages its user
visits, so :class:`RequestGuard` checks every request, on every route:

* ``Host`` must be a loopback name (``127.0.0.1``, ``localhost``, ``[::1]``, any port)
  or the ``--host``/``--allow-host`` the server was started with, else 421: a DNS
  rebinding page (``evil.example`` resolving to 127.0.0.1) cannot read results;
* an ``Origin`` header, when present, must be this server's own origin (scheme http or
  https, the same host and port as ``Host``), else 403: no cross-site page can queue
  or cancel jobs (no Origin: a non-browser client, accepted);
* a POST body must be ``application/json`` (else 415), so a cross-site form or
  ``text/plain`` fetch cannot even be sent without a CORS preflight, which this server
  never grants;
* a body is at most ``LIMITS["body_bytes"]``: a larger ``Content-Length`` is refused
  (413) before anything is read, and a body without one (chunked) is read piece by
  piece (:func:`_body`) and refused as soon as it passes the cap.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from gutskin.explorer.schemas import LIMITS, ApiError

__all__ = ["LOOPBACK_HOSTS", "RequestGuard", "normalise_host"]


# ---------------------------------------------------------------------- handlers
def _error(exc: ApiError) -> JSONResponse:
    return JSONResponse({"error": exc.message, "field": exc.field}, status_code=exc.status)


def _too_large() -> ApiError:
    return ApiError(f"request body over {LIMITS['body_bytes']} bytes", None, 413)


async def _body(request: Request) -> Any:
    """The JSON object of a request body, read piece by piece and never past the cap.

    A declared ``Content-Length`` over the cap was already refused by
    :class:`RequestGuard`; this catches bodies without one (chunked) and bodies longer
    than they declared.
    """
    cap = LIMITS["body_bytes"]
    parts: list[bytes] = []
    size = 0
    async for part in request.stream():
        size += len(part)
        if size > cap:
            raise _too_large()
        parts.append(part)
    raw = b"".join(parts)
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError("request body is not valid JSON", None, 400) from None
    if not isinstance(data, dict):
        raise ApiError("request body must be a JSON object", None, 422)
    if not _valid_unicode(data):
        # JSON may escape a lone surrogate (\\ud800); such a string cannot be written
        # out as UTF-8 later, so it is refused here (it was a 500)
        raise ApiError("request body holds text that is not valid Unicode", None, 400)
    return data


def _valid_unicode(value: Any) -> bool:
    """Whether every string (and key) in parsed JSON encodes as UTF-8 (no lone surrogate)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return True


# ---------------------------------------------------------------------- request guard
#: Host names always accepted (with any port): this machine's loopback names.
LOOPBACK_HOSTS: frozenset[str] = frozenset({"127.0.0.1", "localhost", "[::1]"})

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_PORT = re.compile(r"^\d{1,5}$")


def normalise_host(name: str) -> str:
    """A host name as it appears in a ``Host`` header: lower case, IPv6 in brackets."""
    name = name.strip().lower().rstrip(".")
    if ":" in name and not name.startswith("["):
        name = f"[{name}]"
    return name


def _split_netloc(netloc: str) -> tuple[str, str] | None:
    """``(host, port)`` of ``host[:port]`` (port ``""`` if absent); None if malformed."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            return None
        host, rest = netloc[: end + 1], netloc[end + 1 :]
    else:
        host, sep, port = netloc.partition(":")
        rest = sep + port
    if rest and not (rest.startswith(":") and _PORT.match(rest[1:])):
        return None
    if not host or any(c in host for c in "/@?# \t\\"):
        return None
    return host.rstrip("."), rest[1:]


class RequestGuard:
    """ASGI middleware: Host, Origin, Content-Type and Content-Length checks on every route.

    See the module docstring for the rules.  Refusals are JSON ``{"error", "field"}``
    with 421 (Host), 403 (Origin), 415 (Content-Type), 413 (size) or 400 (a malformed
    header).
    """

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str] = ()) -> None:
        self.app = app
        self.allowed = LOOPBACK_HOSTS | {normalise_host(h) for h in allowed_hosts if h.strip()}

    def check(self, method: str, headers: Headers) -> ApiError | None:
        """The refusal of a request with these headers, or None if it may pass."""
        allowed = ", ".join(sorted(self.allowed))
        host_header = headers.get("host")
        if host_header is None:
            return ApiError(f"Host header missing; allowed hosts: {allowed}", "Host", 421)
        parts = _split_netloc(host_header)
        if parts is None or parts[0] not in self.allowed:
            return ApiError(
                f"Host {host_header[:100]!r} is not served here; allowed hosts: {allowed} "
                "(any port; start with --host or --allow-host to add one)",
                "Host",
                421,
            )
        origin = headers.get("origin")
        if origin is not None:
            o = urlsplit(origin.strip()) if origin.strip().lower() != "null" else None
            o_parts = _split_netloc(o.netloc) if o and o.scheme in ("http", "https") else None
            default = {"http": "80", "https": "443"}.get(o.scheme if o else "", "")
            if (
                o_parts is None
                or o is None
                or o.path not in ("", "/")
                or o_parts[0] != parts[0]
                or (o_parts[1] or default) != (parts[1] or default)
            ):
                return ApiError(
                    f"cross-origin request refused: Origin {origin[:100]!r} is not this "
                    f"server ({host_header[:100]}); use the explorer page itself",
                    "Origin",
                    403,
                )
        if method in _BODY_METHODS:
            ctype = headers.get("content-type", "")
            media = ctype.split(";", 1)[0].strip().lower()
            if media != "application/json":
                shown = repr(ctype[:100]) if ctype else "none"
                return ApiError(
                    f"Content-Type must be application/json, got {shown}", "Content-Type", 415
                )
        length = headers.get("content-length")
        if length is not None:
            if not length.strip().isdigit():
                return ApiError(
                    f"Content-Length must be a whole number of bytes, got {length[:40]!r}",
                    "Content-Length",
                    400,
                )
            if int(length) > LIMITS["body_bytes"]:
                return _too_large()
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self.check(scope.get("method", "GET"), Headers(scope=scope))
        if refusal is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "http":
            await _error(refusal)(scope, receive, send)
        else:  # pragma: no cover - no websocket routes
            await send({"type": "websocket.close", "code": 1008})
