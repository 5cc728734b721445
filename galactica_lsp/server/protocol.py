"""What reaches the server, and how every message is answered: framing and JSON-RPC's rules.

Owns:

- :class:`FrameReader`: LSP's base protocol (``Content-Length`` headers, then
  the body), read from a byte stream that may be broken. Header names are read
  case-insensitively with or without a space after the colon, lines may end
  in ``\\r\\n`` or a bare ``\\n``, other header fields (``Content-Type``) are
  allowed, and a message is at most :data:`MAX_BODY` bytes. Anything else is
  skipped up to the next ``Content-Length`` header, with one log line saying
  what was skipped: garbage between frames, a header block without a length,
  a frame whose ``Content-Length`` promises more than the limit (its bytes are
  counted off, never held), and a frame whose length is too large (the next
  header shows up inside its body: a real header, with its line break, cannot
  occur inside valid JSON, so the body ends there). Nothing the client sends
  leaves the server waiting for bytes that will never come while later frames
  go unread.
- :class:`GalacticaProtocol`: pygls's protocol with JSON-RPC 2.0's and LSP's
  rules for what it receives. A body that is not JSON (or not UTF-8, or
  nested too deeply for the parser) gets a parse error (-32700) with
  ``"id": null``; a message that is not a request, notification or response
  (no ``"jsonrpc": "2.0"``, a method that is not a string, an id that is
  neither an integer nor a string, params that are neither an object nor an
  array) gets an invalid-request error (-32600) with its id when the id is
  readable, else ``null``; unreadable parameters get invalid-params (-32602)
  with a sentence naming the fields. LSP has no batches: a JSON array gets
  one invalid-request error for each element whose id is readable (each in
  its own frame, as LSP clients read them), or a single one with id ``null``
  when none is. Before ``initialize`` a request gets -32002 (server not
  initialized); after ``shutdown`` every request gets invalid-request and
  every notification but ``exit`` is ignored. ``exit`` ends the session with
  status 0 after ``shutdown`` and 1 without. No error response carries a
  traceback: it is logged (stderr), and the client gets the message.
  Documents are kept by :class:`documents.Documents`, which this protocol
  installs as the workspace; the document notifications reach the features
  under the URI the document was opened with.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

import cattrs
from lsprotocol import types
from pygls.protocol import LanguageServerProtocol, lsp_method
from pygls.protocol.json_rpc import JsonRPCNotification, JsonRPCRequestMessage, JsonRPCResponseMessage

from .documents import Documents

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024 * 1024  # bytes: a message larger than this is skipped
PARSE_ERROR, INVALID_REQUEST, INVALID_PARAMS, SERVER_NOT_INITIALIZED = -32700, -32600, -32602, -32002

# ``Content-Length: 12\r\n``, any case, any spacing, LF alone allowed.
_LENGTH = re.compile(rb"content-length[ \t]*:[ \t]*(\d{1,20})[ \t]*\r?\n", re.IGNORECASE)
# Any other header field: a token (RFC 9110), a colon, a value.
_FIELD = re.compile(rb"[A-Za-z0-9!#$%&'*+.^_`|~-]+[ \t]*:[^\r\n]*\r?\n")
_BLANK = re.compile(rb"\r?\n")
_TAIL = 64  # bytes kept back while skipping: the start of a header split across reads
_MAX_HEADERS = 8192  # bytes of header fields after Content-Length before the block is given up


class FrameReader:
    """Bodies out of a stream of bytes fed in pieces; never more than one frame's body (≤ ``max_body``) held."""

    def __init__(self, max_body: int = MAX_BODY):
        self.max_body = max_body
        self._buffer = bytearray()
        self._length: int | None = None  # the body being read: its announced length
        self._skip = 0  # bytes of an oversized body still to be counted off
        self._scanned = 0  # how far the body has been searched for a header
        self.skipped = 0  # bytes skipped over the whole stream (for tests and the log)

    def feed(self, data: bytes) -> list[bytes]:
        """The complete bodies ``data`` finishes, in order."""
        self._buffer += data
        bodies: list[bytes] = []
        while True:
            if self._skip:
                if not self._skip_body():
                    break
            elif self._length is None:
                if not self._read_header():
                    break
            else:
                body = self._read_body()
                if body is None:
                    break
                bodies.append(body)
        return bodies

    def _discard(self, count: int, why: str) -> None:
        if count <= 0:
            return
        preview = bytes(self._buffer[: min(count, 60)])
        log.warning("skipped %d bytes (%s): %r%s", count, why, preview, "…" if count > 60 else "")
        self.skipped += count
        del self._buffer[:count]

    def _read_header(self) -> bool:
        found = _LENGTH.search(self._buffer)
        if found is None:
            self._discard(len(self._buffer) - _TAIL, "no Content-Length header")
            return False
        before = found.start()
        if before and not _only_fields(self._buffer[:before]):
            self._discard(before, "outside a frame")
            return True
        length, at = int(found.group(1)), found.end()
        while True:  # the rest of the header block, up to its blank line
            blank = _BLANK.match(self._buffer, at)
            if blank is not None:
                at = blank.end()
                break
            field = _FIELD.match(self._buffer, at)
            if field is not None:
                again = _LENGTH.fullmatch(field.group(0))
                length = int(again.group(1)) if again else length
                at = field.end()
                continue
            rest = self._buffer[at:]
            if b"\n" not in rest and len(rest) < _MAX_HEADERS:
                return False  # a header line not finished yet
            self._discard(at, "a header block with no blank line after it")
            return True
        del self._buffer[:at]
        if length > self.max_body:
            log.warning("a message of %d bytes is over the %d-byte limit: skipped", length, self.max_body)
            self._skip = length
        else:
            self._length, self._scanned = length, 0
        return True

    def _read_body(self) -> bytes | None:
        length = self._length
        assert length is not None
        start = max(0, self._scanned - _TAIL)
        found = _LENGTH.search(self._buffer, start, min(len(self._buffer), length + _TAIL))
        if found is not None and found.start() < length:
            # The announced length was too large: the next frame began inside this body.
            end = found.start()
            log.warning("Content-Length said %d bytes, but a new header came after %d: read the %d as the body",
                        length, end, end)
            body = bytes(self._buffer[:end]).rstrip(b" \t\r\n")
            del self._buffer[:end]
            self._length = None
            return body
        if len(self._buffer) < length:
            self._scanned = len(self._buffer)
            return None
        body = bytes(self._buffer[:length])
        del self._buffer[:length]
        self._length = None
        return body

    def _skip_body(self) -> bool:
        found = _LENGTH.search(self._buffer)
        if found is not None and found.start() < self._skip:
            log.warning("a new header came inside the oversized message: reading from there")
            self.skipped += found.start()
            del self._buffer[: found.start()]
            self._skip = 0
            return True
        if len(self._buffer) >= self._skip:
            self.skipped += self._skip
            del self._buffer[: self._skip]
            self._skip = 0
            return True
        drop = max(0, len(self._buffer) - _TAIL)
        self.skipped += drop
        self._skip -= drop
        del self._buffer[:drop]
        return False


def _only_fields(block: bytes) -> bool:
    """Whether bytes before a Content-Length header are whole header fields (``Content-Type: …``)."""
    at = 0
    while at < len(block):
        field = _FIELD.match(block, at)
        if field is None:
            return False
        at = field.end()
    return True


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def envelope_error(data: Any) -> tuple[Any, str] | None:
    """Why a decoded message is not a JSON-RPC 2.0 request or notification: (the id to answer, a sentence).

    None when it is one, or when it is a response (which is never answered).
    """
    if not isinstance(data, dict):
        return None, "a message must be a JSON object"
    has_id = "id" in data
    msg_id = data.get("id") if has_id and _valid_id(data.get("id")) else None
    if "method" not in data and has_id:
        return None  # a response (checked when it is read)
    if has_id and msg_id is None:
        return None, f"the id must be an integer or a string, not {type(data['id']).__name__}"
    if data.get("jsonrpc") != "2.0":
        return msg_id, 'the message must have "jsonrpc": "2.0"'
    if not isinstance(data.get("method"), str):
        return msg_id, "the method must be a string" if "method" in data else "the message has no method"
    params = data.get("params")
    if params is not None and not isinstance(params, (dict, list)):
        return msg_id, "params must be an object or an array"
    return None


def _camel(path: str) -> str:
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), path)


def params_error(method: str, exc: Exception) -> str:
    """A sentence saying which parameters of ``method`` could not be read."""
    try:
        details = [_camel(line) for line in cattrs.transform_error(exc)]
    except Exception:
        details = [str(exc) or type(exc).__name__]
    return f"the parameters of {method} could not be read: {'; '.join(details[:5])}"


class GalacticaProtocol(LanguageServerProtocol):
    """pygls's language server protocol, answering every message as JSON-RPC and LSP say (module docstring)."""

    def __init__(self, server, converter):
        super().__init__(server, converter)
        self.exit_code: int | None = None
        self.on_exit: Callable[[int], None] = lambda code: None  # the transport's: end the session

    # -- receiving ------------------------------------------------------------

    def handle_body(self, body: bytes | str) -> None:
        """One message's body, as read off the wire: decoded, checked, and handled or answered with an error."""
        try:
            text = body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else body
            data = json.loads(text)
        except RecursionError:
            self.send_error(None, PARSE_ERROR, "Parse error: the JSON is nested too deeply")
            return
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError alike
            log.warning("unreadable message: %s", exc)
            self.send_error(None, PARSE_ERROR, f"Parse error: {exc}")
            return
        if isinstance(data, list):
            self._reject_batch(data)
            return
        try:
            self._receive(data)
        except RecursionError:
            self.send_error(_id_of(data), INVALID_REQUEST, "Invalid request: the message is nested too deeply")

    def _reject_batch(self, batch: list) -> None:
        why = "Invalid request: the Language Server Protocol has no batches; send each message in its own frame"
        ids = [item["id"] for item in batch if isinstance(item, dict) and "method" in item and _valid_id(item.get("id"))]
        for msg_id in ids:
            self.send_error(msg_id, INVALID_REQUEST, why)
        if not ids:
            self.send_error(None, INVALID_REQUEST, why)

    def _receive(self, data: Any) -> None:
        invalid = envelope_error(data)
        if invalid is not None:
            msg_id, why = invalid
            log.warning("invalid message %.200r: %s", data, why)
            self.send_error(msg_id, INVALID_REQUEST, f"Invalid request: {why}")
            return
        method, is_request = data.get("method"), "method" in data and "id" in data
        if method is not None:
            if self._workspace is None and method not in (types.INITIALIZE, types.EXIT):
                if is_request:
                    self.send_error(data["id"], SERVER_NOT_INITIALIZED,
                                    f"the server is not initialized: send initialize before {method}")
                else:
                    log.info("%s before initialize: ignored", method)
                return
            if self._shutdown and method != types.EXIT:
                if is_request:
                    self.send_error(data["id"], INVALID_REQUEST,
                                    f"Invalid request: the server has shut down; {method} is not served, only exit")
                else:
                    log.info("%s after shutdown: ignored", method)
                return
        try:
            message = self.structure_message(data)
        except Exception as exc:
            self._unreadable(data, exc)
            return
        try:
            self.handle_message(message)
        except RecursionError:
            raise
        except Exception:
            log.exception("cannot handle %s", method or "a response")

    def structure_message(self, data: dict):
        """The typed message for a checked envelope (pygls's choice of type, without its logging)."""
        if "method" not in data:
            if "error" in data:
                return self._converter.structure(data, types.ResponseErrorMessage)
            return self._converter.structure(data, self._result_types.pop(data["id"], None) or JsonRPCResponseMessage)
        fallback = JsonRPCRequestMessage if "id" in data else JsonRPCNotification
        return self._converter.structure(data, self.get_message_type(data["method"]) or fallback)

    def _unreadable(self, data: dict, exc: Exception) -> None:
        method = data.get("method")
        if method is None:  # a response to one of ours: its waiter hears why
            log.warning("cannot read the response %r: %s", data.get("id"), exc)
            future = self._request_futures.pop(data.get("id"), None)
            if future is not None and not future.done():
                future.set_exception(ValueError(f"unreadable response: {exc}"))
            return
        why = params_error(method, exc)
        log.warning("%s", why)
        if "id" in data:
            self.send_error(data["id"], INVALID_PARAMS, f"Invalid params: {why}")

    # -- answering ------------------------------------------------------------

    def send_error(self, msg_id: Any, code: int, message: str) -> None:
        """An error response; ``msg_id`` None is sent as ``"id": null``, as JSON-RPC requires."""
        self._send_data({"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}})

    def _send_response(self, msg_id, result=None, error: types.ResponseError | None = None):
        if error is not None and isinstance(error.data, dict) and "traceback" in error.data:
            log.error("request %r failed: %s\n%s", msg_id, error.message, "".join(error.data["traceback"]))
            data = {k: v for k, v in error.data.items() if k != "traceback"} or None
            error = types.ResponseError(code=error.code, message=error.message, data=data)
        if msg_id is None and error is not None:
            self.send_error(None, error.code, error.message)
            return
        super()._send_response(msg_id, result, error)

    # -- the session -----------------------------------------------------------

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams):
        """pygls's initialize, with :class:`Documents` as the workspace from the start."""
        steps = super().lsp_initialize(params)
        try:
            step = next(steps)  # pygls has made its workspace and yields to our initialize handler
        except StopIteration as done:
            self._workspace = Documents.replacing(self._workspace)
            return done.value
        self._workspace = Documents.replacing(self._workspace)
        while True:
            value = yield step
            try:
                step = steps.send(value)
            except StopIteration as done:
                return done.value

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams):
        self._as_opened(params.text_document)
        yield from super().lsp_text_document__did_change(params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: types.DidCloseTextDocumentParams):
        self._as_opened(params.text_document)
        yield from super().lsp_text_document__did_close(params)

    def _as_opened(self, identifier) -> None:
        """The URI the document was opened with, however this notification spells it."""
        document = self.workspace.find(identifier.uri)
        if document is not None:
            identifier.uri = document.uri

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args):
        """End the session: 0 after shutdown, 1 without (the transport stops the engine and returns it)."""
        if (handler := self.fm.features.get(types.EXIT)) is not None:
            yield handler, args, None
        self.exit_code = 0 if self._shutdown else 1
        log.info("exit (status %d)", self.exit_code)
        self.on_exit(self.exit_code)


def _id_of(data: Any) -> Any:
    return data.get("id") if isinstance(data, dict) and _valid_id(data.get("id")) else None
