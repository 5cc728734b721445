"""Run a language server and record the JSON-RPC traffic through it, one JSON line per message.

    python lsp_tee.py TRAFFIC.jsonl -- COMMAND [ARGS...]

The bytes pass through unchanged (stdin to the server, its stdout back); each message is also
written to TRAFFIC.jsonl as {"t": seconds since start, "from": "client"|"server", "message": {...}}.
The server's stderr is inherited. The test's VS Code settings start the server through this.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from typing import BinaryIO

START = time.monotonic()
LOCK = threading.Lock()


def copy(source: BinaryIO, sink: BinaryIO, side: str, log: BinaryIO) -> None:
    """Forward LSP-framed messages from source to sink, logging each body."""
    try:
        while True:
            headers = b""
            while not headers.endswith(b"\r\n\r\n"):
                byte = source.read(1)
                if not byte:
                    return
                headers += byte
            length = next(int(line.split(b":")[1]) for line in headers.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            body = source.read(length)
            sink.write(headers + body)
            sink.flush()
            try:
                message = json.loads(body)
            except ValueError:
                message = {"unreadable": body.decode("utf-8", "replace")}
            line = json.dumps({"t": round(time.monotonic() - START, 3), "from": side, "message": message})
            with LOCK:
                log.write(line.encode() + b"\n")
                log.flush()
    except (BrokenPipeError, ValueError, StopIteration):
        return
    finally:
        if side == "client":
            sink.close()  # the editor closed the connection: so does the server's stdin


def main() -> int:
    traffic, rest = sys.argv[1], sys.argv[2:]
    command = rest[1:] if rest[:1] == ["--"] else rest
    server = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    with open(traffic, "ab") as log:
        threading.Thread(target=copy, args=(sys.stdin.buffer, server.stdin, "client", log), daemon=True).start()
        copy(server.stdout, sys.stdout.buffer, "server", log)
        return server.wait()


if __name__ == "__main__":
    sys.exit(main())
