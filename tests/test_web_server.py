"""The web server itself: uvicorn on a real socket inside the kiosk's event loop."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
from pathlib import Path

import pytest
import websockets

from lockerkey.config_web import WebSettings
from lockerkey.daemon import Daemon
from lockerkey.web.server import WebError, attach, bind
from tests.live import eventually, open_site


async def http_get(port: int, path: str) -> tuple[int, bytes]:
    """A plain HTTP/1.1 GET over a raw socket: status and body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: kiosk\r\nConnection: close\r\n\r\n".encode())
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def test_serves_the_api_and_closes_cleanly(tmp_path: Path) -> None:
    site = await open_site(tmp_path, 4)
    try:
        settings = dataclasses.replace(site.settings, web=WebSettings(port=0))
        daemon = Daemon(settings, site.ledger, [], [], site.kiosk.display)
        daemon.kiosk = site.kiosk  # serve the running kiosk of the site
        service = attach(daemon)
        assert daemon.services and daemon.services[0][0] == "web"
        serving = asyncio.create_task(service.serve())
        await eventually(lambda: service.port is not None, why="bound")
        assert service.port is not None
        # The socket listens from bind on: a connection now waits in its backlog, no retry.
        status, body = await http_get(service.port, "/api/state")
        assert status == 200 and json.loads(body)["phase"] == "idle"
        async with websockets.connect(f"ws://127.0.0.1:{service.port}/ws") as ws:
            first = json.loads(await ws.recv())
            assert first["phase"] == "idle"
            site.kiosk.scan("M1")
            while json.loads(await ws.recv())["phase"] != "take_key":
                pass  # auto selection: the key's slot opens at once
            serving.cancel()
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    await ws.recv()
        with pytest.raises(asyncio.CancelledError):
            await serving
        with pytest.raises(OSError):
            await http_get(service.port, "/api/state")
    finally:
        await site.stop()


async def test_a_forwarded_header_does_not_make_a_kiosk(tmp_path: Path) -> None:
    site = await open_site(tmp_path, 4)
    try:
        web = WebSettings(port=0, kiosk_clients=("10.9.9.9",))
        settings = dataclasses.replace(site.settings, web=web)
        daemon = Daemon(settings, site.ledger, [], [], site.kiosk.display)
        daemon.kiosk = site.kiosk
        service = attach(daemon)
        serving = asyncio.create_task(service.serve())
        await eventually(lambda: service.port is not None, why="bound")
        assert service.port is not None
        reader, writer = await asyncio.open_connection("127.0.0.1", service.port)
        writer.write(
            b"GET /api/state HTTP/1.1\r\nHost: kiosk\r\nX-Forwarded-For: 10.9.9.9\r\n"
            b"Connection: close\r\n\r\n"
        )
        answer = await reader.read()
        writer.close()
        assert answer.split()[1] == b"403"  # the peer is 127.0.0.1, whatever the header says
        serving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await serving
    finally:
        await site.stop()


def test_a_taken_port_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(WebError, match=rf"cannot serve on 127.0.0.1:{port}: .*in use"):
            bind("127.0.0.1", port)


def test_a_wrong_host_is_a_clear_error() -> None:
    with pytest.raises(WebError, match=r"web\.host 'no such host\.invalid'"):
        bind("no such host.invalid", 8000)
