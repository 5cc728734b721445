"""How the server talks to its one client, and how the process ends.

Owns: the three transports (stdio, TCP, WebSocket), each serving one client
session, as pygls does: a TCP or WebSocket server takes one connection and
ends with it; a second client while one is connected is turned away. Bytes
go through :class:`protocol.FrameReader` (stdio and TCP) or arrive as whole
messages (WebSocket) and are handled by :meth:`GalacticaProtocol.handle_body`.

A session ends at ``exit`` (status 0 after ``shutdown``, 1 without) or when
the client goes away: stdin or the connection closed (status 0: the editor
quit or died, nothing is wrong with the server). Then the engine's worker is
stopped: its running job is cancelled, and the process waits (at most
:data:`ENGINE_STOP_S`; a model load cannot be interrupted) for the job to see
the flag and the thread to end, so that no C++ thread is running model code
when the process ends (an interpreter teardown under one aborts with
``terminate called without an active exception``). Then the atexit handlers
run, logs and streams are flushed, and the process ends with ``os._exit``:
the teardown of torch and transformers alone takes over a second, and after
``exit`` the process should be gone within one.

On stdio the protocol writes to a duplicate of the original stdout, and file
descriptor 1 is pointed at stderr: a stray ``print`` or a C library writing
to stdout lands in the log instead of breaking the protocol. Stdin is read on
a daemon thread with a small bounded hand-off to the event loop, so reading
never waits on the loop's work and memory stays bounded under a flood.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import BinaryIO, NoReturn

from pygls.io_ import StdoutWriter, WebSocketWriter

from ..engine.types import Priority
from .protocol import MAX_BODY, FrameReader, GalacticaProtocol

log = logging.getLogger(__name__)

READ_SIZE = 64 * 1024
ENGINE_STOP_S = 1.0  # the most the process waits for the model's thread at exit
_QUEUED_READS = 16  # chunks of stdin read ahead of the event loop


def run(server, transport: str = "stdio", host: str = "127.0.0.1", port: int = 2087) -> NoReturn:
    """Serve one client session on ``transport`` (stdio, tcp or ws), then end the process with its status."""
    sessions: dict[str, Callable[[], Awaitable[int]]] = {
        "stdio": lambda: _stdio(server),
        "tcp": lambda: _tcp(server, host, port),
        "ws": lambda: _ws(server, host, port),
    }
    try:
        code = asyncio.run(sessions[transport]())
    except KeyboardInterrupt:
        code = 130
    log.info("session ended (status %d): stopping the engine", code)
    worker = server.engine.worker
    running = worker.current
    # A load cannot be interrupted: no use waiting for it. Generation stops at its next token.
    wait = 0.0 if running is not None and running.priority == Priority.CONTROL else ENGINE_STOP_S
    if not worker.shutdown(wait=True, timeout=wait):
        log.warning("the engine is still busy (%s): exiting without waiting for it", running.label if running else "?")
    end_process(code)


def end_process(code: int) -> NoReturn:
    """Run the atexit handlers, flush the logs and streams, and leave without the interpreter's teardown.

    The teardown of torch and transformers takes seconds and is where a C++ thread still running
    model code would abort the process; neither is needed once the engine's thread has been stopped
    (or, for a load that cannot be interrupted, given up on).
    """
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_handlers is not None:
        run_exit_handlers()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(code)


async def session(protocol: GalacticaProtocol, bodies: AsyncIterator[bytes | str]) -> int:
    """Handle bodies until ``exit`` (its status) or until they end (0)."""
    loop = asyncio.get_running_loop()
    exited: asyncio.Future[int] = loop.create_future()
    protocol.on_exit = lambda code: exited.done() or exited.set_result(code)

    async def pump() -> int:
        async for body in bodies:
            protocol.handle_body(body)
            if exited.done():
                break
        else:
            log.info("the client closed the connection: ending the session")
        return 0

    reading = asyncio.ensure_future(pump())
    await asyncio.wait({reading, exited}, return_when=asyncio.FIRST_COMPLETED)
    if exited.done():
        reading.cancel()
        return exited.result()
    try:
        return reading.result()
    except (ConnectionError, OSError) as exc:  # a client that went away mid-write
        log.info("the connection was lost: %s", exc)
        return 0


async def frames(read: Callable[[], Awaitable[bytes]]) -> AsyncIterator[bytes]:
    """The bodies of the frames in a byte stream, until it ends."""
    reader = FrameReader()
    while True:
        try:
            data = await read()
        except (ConnectionError, OSError) as exc:
            log.info("reading failed: %s", exc)
            return
        if not data:
            return
        for body in reader.feed(data):
            yield body


# -- stdio -----------------------------------------------------------------


def _protocol_stdout() -> BinaryIO:
    """The real stdout for the protocol alone; fd 1 and ``sys.stdout`` now go to stderr."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return out


def _read_stdin(loop: asyncio.AbstractEventLoop, chunks: asyncio.Queue, fd: int) -> None:
    while True:
        try:
            data = os.read(fd, READ_SIZE)
        except OSError as exc:
            log.info("stdin: %s", exc)
            data = b""
        try:
            asyncio.run_coroutine_threadsafe(chunks.put(data), loop).result()
        except (RuntimeError, asyncio.CancelledError, Exception):
            return  # the loop is gone: the session has ended
        if not data:
            return


async def _stdio(server) -> int:
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[bytes] = asyncio.Queue(maxsize=_QUEUED_READS)
    server.protocol.set_writer(StdoutWriter(_protocol_stdout()))
    threading.Thread(target=_read_stdin, args=(loop, chunks, sys.stdin.fileno()), name="stdin", daemon=True).start()
    return await session(server.protocol, frames(chunks.get))


# -- TCP and WebSocket: one connection, then the server ends -----------------


async def _tcp(server, host: str, port: int) -> int:
    loop = asyncio.get_running_loop()
    ended: asyncio.Future[int] = loop.create_future()
    busy = False

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal busy
        if busy or ended.done():
            log.warning("a second client connected: turned away (one session per server)")
            writer.close()
            return
        busy = True
        log.info("client connected from %s", writer.get_extra_info("peername"))
        server.protocol.set_writer(writer)
        code = await session(server.protocol, frames(lambda: reader.read(READ_SIZE)))
        writer.close()
        if not ended.done():
            ended.set_result(code)

    listening = await asyncio.start_server(connection, host, port)
    log.info("serving on tcp://%s:%d", host, port)
    async with listening:
        return await ended


async def _ws(server, host: str, port: int) -> int:
    try:
        from websockets.asyncio.server import serve
        from websockets.exceptions import ConnectionClosed
    except ImportError:
        log.error("WebSocket needs the websockets package: pip install 'pygls[ws]'")
        return 1
    loop = asyncio.get_running_loop()
    ended: asyncio.Future[int] = loop.create_future()
    busy = False

    async def messages(websocket) -> AsyncIterator[bytes | str]:
        try:
            async for message in websocket:
                yield message
        except ConnectionClosed as exc:
            log.info("the WebSocket closed: %s", exc)

    async def connection(websocket) -> None:
        nonlocal busy
        if busy or ended.done():
            log.warning("a second client connected: turned away (one session per server)")
            await websocket.close()
            return
        busy = True
        server.protocol.set_writer(WebSocketWriter(websocket), include_headers=False)
        code = await session(server.protocol, messages(websocket))
        await websocket.close()
        if not ended.done():
            ended.set_result(code)

    async with serve(connection, host, port, max_size=MAX_BODY):
        log.info("serving on ws://%s:%d", host, port)
        return await ended
