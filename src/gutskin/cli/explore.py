"""The ``gutskin explore`` command: serve the web explorer on a local port."""

from __future__ import annotations

import socket
from typing import Annotated

import typer

from gutskin.cli.support import UserError, console

__all__ = ["bind_socket", "explore"]


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port).

    Raises
    ------
    UserError
        If the port is out of range or the address cannot be bound (e.g. in use).
    """
    if not 0 <= port <= 65535:
        raise UserError(f"--port must be in 0..65535, got {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UserError(f"--host {host!r}: cannot resolve ({exc.strerror})") from None
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.setblocking(False)
    return sock


def explore(
    port: Annotated[int, typer.Option("--port", help="TCP port (0: pick a free one).")] = 8765,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (default: this machine only).")
    ] = "127.0.0.1",
    allow_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-host",
            help="Another name this server may be reached by (Host header; repeatable). "
            "Loopback names and --host are always allowed.",
        ),
    ] = None,
) -> None:
    """Serve the web explorer (model, patients, quick trials) on a local web page.

    Requests whose Host is not a loopback name, --host or an --allow-host name, and
    requests from another web origin, are refused (DNS rebinding, cross-site requests).
    """
    extra = [h.strip() for h in allow_host or []]
    for name in extra:
        if not name or any(c in name for c in "/@?# "):
            raise UserError(f"--allow-host: give a host name or address, got {name!r}")
    sock = bind_socket(host, port)
    import uvicorn

    from gutskin.explorer.app import create_app

    actual = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    console.print(
        f"gutskin explorer on http://{shown}:{actual}/ (the first start compiles the "
        "model, about a minute; Ctrl+C stops)"
    )
    app = create_app(allowed_hosts=[host, *extra])
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
