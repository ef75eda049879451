"""Loopback servers must send responses without Nagle delays (TCP_NODELAY on accepted sockets)."""

import asyncio
import socket

from reconciler.sandbox.server import _bind


async def test_accepted_connections_get_tcp_nodelay() -> None:
    listener = _bind("127.0.0.1", 0)
    seen: list[int] = []

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(on_client, sock=listener)
    try:
        port = listener.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.01)
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
    assert seen, "the server never accepted the connection"
    assert seen[0] != 0, "asyncio did not set TCP_NODELAY on the accepted socket"
