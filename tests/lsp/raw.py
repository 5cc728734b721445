"""A raw-bytes client for the real server: write anything to its stdin, read its framed replies.

For tests of what pytest-lsp cannot send (broken frames, invalid JSON-RPC) and of how the
process ends. Every read has a timeout; they are hang guards, not performance checks.
"""

from __future__ import annotations

import json
import queue
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

from .conftest import ENV, MODEL, SERVER

HANG_GUARD = 120  # seconds: far beyond anything the answers need, so only a hang trips it


def frame(body: bytes | dict | list) -> bytes:
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def request(msg_id: Any, method: str, params: Any = None) -> dict:
    message = {"jsonrpc": "2.0", "id": msg_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def notification(method: str, params: Any = None) -> dict:
    message = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return message


def initialize(msg_id: Any = 0) -> dict:
    return request(msg_id, "initialize", {
        "processId": None, "rootUri": None, "capabilities": {},
        "initializationOptions": {"galactica": {"model": MODEL, "device": "cpu"}},
    })


class RawServer:
    """The server as a subprocess; stderr goes to a file (``log()``), replies are parsed on a thread."""

    def __init__(self, *extra: str):
        self._stderr = tempfile.NamedTemporaryFile(prefix="galactica-stderr-", suffix=".log", delete=False)
        self.process = subprocess.Popen([*SERVER, *extra], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self._stderr, env=ENV)
        self.messages: queue.Queue = queue.Queue()
        self.seen: list[dict] = []  # everything read so far, in order
        self._taken: list[dict] = []  # the responses reply() has returned
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            message = read_message(self.process.stdout)
            self.messages.put(message)
            if message is None:
                return

    def send(self, *chunks: bytes | dict | list) -> None:
        """Framed messages (dicts, lists) and raw bytes, in order."""
        for chunk in chunks:
            self.process.stdin.write(chunk if isinstance(chunk, bytes) else frame(chunk))
        self.process.stdin.flush()

    def next(self, timeout: float = HANG_GUARD) -> dict | None:
        message = self.messages.get(timeout=timeout)
        if message is not None:
            self.seen.append(message)
        return message

    def reply(self, msg_id: Any, timeout: float = HANG_GUARD) -> dict:
        """The response with this id (``None`` for id null); other messages are kept in ``seen``."""
        for message in self.seen:
            if _is_response(message) and message["id"] == msg_id and all(message is not t for t in self._taken):
                self._taken.append(message)
                return message
        while True:
            message = self.next(timeout)
            assert message is not None, f"the server ended before answering {msg_id!r}:\n{self.log()[-3000:]}"
            if _is_response(message) and message["id"] == msg_id:
                self._taken.append(message)
                return message

    def settle(self) -> None:
        """Take every message read so far: a later ``reply(None)`` is an answer to something sent after this."""
        self._taken = list(self.seen)

    def wait_ready(self, timeout: float = HANG_GUARD) -> None:
        """Until a ``galactica/status`` notification says the model is ready."""
        while not any(m.get("method") == "galactica/status" and m["params"].get("state") == "ready" for m in self.seen):
            message = self.next(timeout)
            assert message is not None, f"the server ended before the model was ready:\n{self.log()[-3000:]}"

    def close_stdin(self) -> None:
        self.process.stdin.close()

    def wait(self, timeout: float = HANG_GUARD) -> int:
        return self.process.wait(timeout=timeout)

    def log(self) -> str:
        self._stderr.flush()
        return Path(self._stderr.name).read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=HANG_GUARD)
        self._stderr.close()
        Path(self._stderr.name).unlink(missing_ok=True)


def read_message(stream) -> dict | None:
    """One framed message from a binary file object; None at the end of the stream."""
    length = None
    while True:
        line = stream.readline()
        if not line:
            return None
        if not line.strip():
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    assert length is not None, "the server sent a header block without Content-Length"
    return json.loads(stream.read(length))


def _is_response(message: dict) -> bool:
    return "id" in message and "method" not in message
