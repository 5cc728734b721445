"""The HTTP client of a remote inference server with vLLM's OpenAI-compatible API.

Owns: one endpoint's connections (``http`` or ``https``, kept alive, standard
library only), its API key (``GALACTICA_LSP_API_KEY``: sent in the
``Authorization`` header to this endpoint only, never in a log line, a repr or
an error message; redirects are not followed, so it never goes elsewhere), the
requests the remote engine makes (``/health``, ``/v1/models``, ``/tokenize``,
``/metrics``, streamed ``/v1/completions`` with the prompt as token ids), the
errors each failure becomes (:class:`RemoteError`, one ``kind`` per cause), and
the retry policy (backoff for what a second try can fix: a refused connection
while the server restarts, a kept-alive connection the server closed, 502/503/504).

A streamed completion is read by a helper thread, so the caller's thread can
poll its cancellation check while tokens arrive; cancelling closes the
connection, which is how vLLM learns to abort the request. No torch here.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import queue
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

API_KEY_ENV = "GALACTICA_LSP_API_KEY"
# token ids come back as "token_id:N" with vLLM's return_tokens_as_token_ids
_TOKEN_ID_PREFIX = "token_id:"
_RETRY_STATUSES = (502, 503, 504)


class RemoteError(RuntimeError):
    """A request to the endpoint failed; ``kind`` says how, ``retryable`` whether trying again may help.

    Kinds: ``refused`` (nothing listens), ``timeout``, ``disconnected`` (the
    server closed the connection), ``network`` (other socket errors, DNS),
    ``tls``, ``unauthorized`` (401/403: the API key), ``rejected`` (other
    4xx: the request), ``server`` (5xx), ``malformed`` (a reply that is not
    the JSON the API defines), ``mismatch`` (the served model is not the one
    the client expects).
    """

    def __init__(self, kind: str, message: str, url: str = "", status: int | None = None, retryable: bool = False):
        super().__init__(message)
        self.kind, self.url, self.status, self.retryable = kind, url, status, retryable


class Aborted(Exception):
    """The caller's cancellation check turned True; the request's connection was closed."""


@dataclass(frozen=True)
class ServedModel:
    """One entry of ``/v1/models``."""

    id: str
    root: str
    max_model_len: int | None


@dataclass
class Choice:
    """One streamed sequence of a completion, put together from its chunks."""

    index: int
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    text: str = ""
    finish_reason: str | None = None  # "stop" | "length" | "abort" …, as vLLM says
    stop_reason: int | str | None = None  # the stop token id or stop string that ended it
    top_logprobs: list[dict[int, float]] = field(default_factory=list)  # per token, when asked for


@dataclass
class Completion:
    choices: list[Choice]
    prompt_tokens: int = 0
    cached_tokens: int | None = None  # prompt tokens served from vLLM's prefix cache, when the server reports it
    timed_out: bool = False  # the deadline came first: the choices hold what had arrived


def api_key_from_env() -> str | None:
    key = os.environ.get(API_KEY_ENV, "").strip()
    return key or None


@dataclass(frozen=True)
class Metrics:
    """A ``/metrics`` page (Prometheus text): each sample's name, labels and value."""

    samples: tuple[tuple[str, dict[str, str], float], ...]

    @classmethod
    def parse(cls, text: str) -> Metrics:
        samples = []
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            labels: dict[str, str] = {}
            if "{" in line:  # name{label="value",…} value [timestamp]; label values may hold spaces and commas
                name, inside = line.split("{", 1)
                inside, rest = inside[: inside.rindex("}")], inside[inside.rindex("}") + 1 :]
                labels = dict(_LABEL.findall(inside))
            else:
                name, _, rest = line.partition(" ")
            try:
                samples.append((name.strip(), labels, float(rest.split()[0])))
            except (IndexError, ValueError):
                continue
        return cls(tuple(samples))

    def value(self, name: str, **labels: str) -> float:
        """The sum of ``name`` over the samples whose labels include ``labels`` (0 when none)."""
        return sum(v for n, have, v in self.samples if n == name and all(have.get(k) == w for k, w in labels.items()))


_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def _token_id(token: str) -> int:
    if not token.startswith(_TOKEN_ID_PREFIX):
        raise ValueError(f"token {token!r} is not a token id (the server ignored return_tokens_as_token_ids)")
    return int(token[len(_TOKEN_ID_PREFIX) :])


def _error_message(body: bytes) -> str:
    """The message of an OpenAI-style error body (``{"error": {"message"}}`` or ``{"message"}``), else its start."""
    try:
        data = json.loads(body)
        if isinstance(data, dict):
            inner = data.get("error", data)
            if isinstance(inner, dict) and inner.get("message"):
                return str(inner["message"])
            if isinstance(inner, str):
                return inner
    except ValueError:
        pass
    return body[:200].decode("utf-8", "replace").strip() or "(no body)"


class _Connections:
    """Kept-alive connections to one host, for whichever thread asks."""

    def __init__(self, scheme: str, host: str, port: int, connect_timeout: float, ca_file: str | None):
        self.scheme, self.host, self.port = scheme, host, port
        self.connect_timeout = connect_timeout
        self.context = ssl.create_default_context(cafile=ca_file) if scheme == "https" else None
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def take(self) -> tuple[http.client.HTTPConnection, bool]:
        """A connection and whether it was used before (a reused one may have been closed by the server)."""
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        if self.scheme == "https":
            conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.connect_timeout, context=self.context)
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.connect_timeout)
        return conn, False

    def give_back(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < 8:
                self._idle.append(conn)
                return
        conn.close()

    def close_all(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class RemoteClient:
    """Requests to one OpenAI-compatible endpoint (``http(s)://host:port``, an optional path prefix)."""

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        connect_timeout: float = 3.0,
        read_timeout: float = 60.0,
        retries: int = 3,
        backoff: float = 0.25,
        ca_file: str | None = None,
    ):
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"endpoint {url!r} must be an http:// or https:// URL with a host")
        if parts.username or parts.password:
            raise ValueError("put no credentials in the endpoint URL: set GALACTICA_LSP_API_KEY")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise ValueError(f"endpoint {url!r}: {exc}") from None
        self.url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self._prefix = parts.path.rstrip("/")
        if self._prefix.endswith("/v1"):
            self._prefix = self._prefix[:-3]  # the URL may name the API root; requests add /v1 themselves
        self._key = api_key
        self.read_timeout = read_timeout
        self.retries, self.backoff = retries, backoff
        self._connections = _Connections(parts.scheme, parts.hostname, port, connect_timeout, ca_file)

    def __repr__(self) -> str:
        return f"RemoteClient({self.url!r}, api_key={'set' if self._key else 'none'})"

    # -- plain requests -------------------------------------------------------------------------

    def health(self) -> None:
        """Raises :class:`RemoteError` unless ``/health`` answers 200."""
        self._request("GET", "/health", retry=True)

    def models(self) -> list[ServedModel]:
        data = self._json("GET", "/v1/models")
        try:
            return [ServedModel(str(m["id"]), str(m.get("root") or m["id"]), m.get("max_model_len")) for m in data["data"]]
        except (KeyError, TypeError) as exc:
            raise RemoteError("malformed", f"{self.url}/v1/models: unexpected reply ({exc})", self.url) from None

    def tokenize(self, model: str, text: str) -> list[int]:
        """The served model's own token ids for ``text`` (no special tokens added)."""
        data = self._json("POST", "/tokenize", {"model": model, "prompt": text, "add_special_tokens": False})
        tokens = data.get("tokens") if isinstance(data, dict) else None
        if not isinstance(tokens, list) or not all(isinstance(t, int) for t in tokens):
            raise RemoteError("malformed", f"{self.url}/tokenize: no token list in the reply", self.url)
        return tokens

    def metrics(self) -> Metrics:
        return Metrics.parse(self._request("GET", "/metrics", retry=True).decode("utf-8", "replace"))

    def close(self) -> None:
        self._connections.close_all()

    def _json(self, method: str, path: str, body: dict | None = None):
        raw = self._request(method, path, body, retry=True)
        try:
            return json.loads(raw)
        except ValueError:
            raise RemoteError("malformed", f"{self.url}{path}: the reply is not JSON ({raw[:80]!r})", self.url) from None

    def _request(self, method: str, path: str, body: dict | None = None, retry: bool = False) -> bytes:
        """One whole request; the body of a 200 reply."""
        conn, response, _ = self._send(method, path, body, lambda: False, retry)
        try:
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise self._failure(exc, path) from None
        if response.will_close:
            conn.close()
        else:
            self._connections.give_back(conn)
        return data

    # -- the connection and its failures --------------------------------------------------------

    def _headers(self, body: bytes | None, stream: bool) -> dict[str, str]:
        # No "Connection: keep-alive" (HTTP/1.1 keeps connections anyway): with it, vLLM 0.32 held a streamed
        # reply back until the whole completion was done.
        headers = {"Accept": "text/event-stream" if stream else "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        return headers

    def _send(self, method, path, body, cancelled, retry, stream=False):
        """Send a request and read its status line; failures that a new try may fix are tried again with backoff.

        Returns the connection, the response and the socket (which http.client hands over to a
        response it cannot frame, leaving ``conn.sock`` empty: closing means shutting this down).
        """
        payload = json.dumps(body).encode() if body is not None else None
        headers = self._headers(payload, stream)
        attempt = 0
        while True:
            conn, reused = self._connections.take()
            try:
                conn.request(method, self._prefix + path, body=payload, headers=headers)
                sock = conn.sock
                sock.settimeout(self.read_timeout)  # connected: from here the time limit is the reply's
                response = conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                error = self._failure(exc, path)
                # A kept-alive connection the server closed (it restarted, or timed the connection out): a new one, at once.
                if reused and error.kind in ("disconnected", "refused"):
                    continue
                if not (retry and error.retryable and attempt < self.retries):
                    raise error from None
            else:
                if response.status == 200:
                    return conn, response, sock
                detail = _error_message(response.read())
                conn.close()
                error = self._status_error(response.status, detail, path)
                if not (retry and error.retryable and attempt < self.retries):
                    raise error
            delay = self.backoff * 2**attempt
            attempt += 1
            log.info("%s %s: %s; trying again in %.2f s (%d/%d)", method, path, error, delay, attempt, self.retries)
            waited = time.monotonic() + delay
            while time.monotonic() < waited:
                if cancelled():
                    raise Aborted()
                time.sleep(min(0.02, max(0.0, waited - time.monotonic())))

    def _status_error(self, status: int, detail: str, path: str) -> RemoteError:
        where = f"{self.url}{path}"
        if status in (401, 403):
            hint = " (set GALACTICA_LSP_API_KEY to the server's key)" if not self._key else " (the API key was refused)"
            return RemoteError("unauthorized", f"{where}: {status} {detail}{hint}", self.url, status)
        if 300 <= status < 400:
            return RemoteError("rejected", f"{where}: {status} redirect not followed (the API key goes to {self.url} only)",
                               self.url, status)
        if status < 500:
            return RemoteError("rejected", f"{where}: {status} {detail}", self.url, status)
        return RemoteError("server", f"{where}: {status} {detail}", self.url, status, retryable=status in _RETRY_STATUSES)

    def _failure(self, exc: BaseException, path: str) -> RemoteError:
        where = f"{self.url}{path}"
        if isinstance(exc, ConnectionRefusedError):
            return RemoteError("refused", f"{where}: connection refused (is the server running?)", self.url, retryable=True)
        if isinstance(exc, (socket.timeout, TimeoutError)):
            return RemoteError("timeout", f"{where}: no answer within the time limit", self.url)
        if isinstance(exc, ssl.SSLError):
            return RemoteError("tls", f"{where}: TLS failed: {exc.reason or exc}", self.url)
        if isinstance(exc, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                            http.client.IncompleteRead)):
            return RemoteError("disconnected", f"{where}: the server closed the connection", self.url, retryable=True)
        if isinstance(exc, socket.gaierror):
            return RemoteError("network", f"{where}: cannot resolve the host ({exc.strerror})", self.url, retryable=True)
        if isinstance(exc, http.client.HTTPException):
            return RemoteError("malformed", f"{where}: not an HTTP reply ({type(exc).__name__})", self.url)
        return RemoteError("network", f"{where}: {type(exc).__name__}: {exc}", self.url, retryable=True)

    # -- completions -----------------------------------------------------------------------------

    def complete(
        self,
        body: dict,
        cancelled: Callable[[], bool] = lambda: False,
        deadline: float | None = None,
        stream: bool = True,
    ) -> Completion:
        """A ``/v1/completions`` request; ``body`` is the request (``stream`` is set here).

        Streamed (vLLM streams all but beam search) or read whole, always on a
        helper thread. :class:`Aborted` when ``cancelled()`` turns True
        (checked at every chunk and every 20 ms between them); past
        ``deadline`` (a ``time.monotonic()`` value) the reply so far, with
        ``timed_out`` set. Both close the connection, so the server stops decoding.
        """
        body = dict(body, stream=stream)
        if stream:
            body["stream_options"] = {"include_usage": True}
        conn, response, sock = self._send("POST", "/v1/completions", body, cancelled, retry=True, stream=stream)
        events = _Events(conn, response, sock, stream)
        result = Completion(choices=[])
        by_index: dict[int, Choice] = {}
        try:
            for event in events.read(cancelled, deadline, self.read_timeout, self.url):
                if "error" in event and "choices" not in event:
                    message = _error_message(json.dumps(event).encode())
                    raise RemoteError("server", f"{self.url}/v1/completions: {message}", self.url)
                for part in event.get("choices") or ():
                    choice = by_index.get(part["index"])
                    if choice is None:
                        choice = by_index[part["index"]] = Choice(part["index"])
                    _add_chunk(choice, part)
                usage = event.get("usage")
                if usage:
                    result.prompt_tokens = int(usage.get("prompt_tokens") or 0)
                    details = usage.get("prompt_tokens_details") or {}
                    if details.get("cached_tokens") is not None:
                        result.cached_tokens = int(details["cached_tokens"])
        except _DeadlinePassed:
            result.timed_out = True
        except (KeyError, TypeError, ValueError) as exc:
            events.close()
            raise RemoteError("malformed", f"{self.url}/v1/completions: unexpected reply ({type(exc).__name__}: {exc})",
                              self.url) from None
        except BaseException:
            events.close()
            raise
        if events.finished and not response.will_close:
            self._connections.give_back(conn)
        else:
            events.close()
        result.choices = [by_index[i] for i in sorted(by_index)]
        return result


def _add_chunk(choice: Choice, part: dict) -> None:
    """Append one chunk (streamed, or a whole choice) to its choice: text, token ids, log-probabilities."""
    choice.text += part.get("text") or ""
    logprobs = part.get("logprobs")
    if logprobs:
        tokens = logprobs.get("tokens") or []
        values = logprobs.get("token_logprobs") or []
        if len(tokens) != len(values):
            raise ValueError("tokens and token_logprobs differ in length")
        choice.token_ids.extend(_token_id(t) for t in tokens)
        choice.logprobs.extend(float(v) if v is not None else 0.0 for v in values)
        for top in logprobs.get("top_logprobs") or ():
            choice.top_logprobs.append({_token_id(t): float(v) for t, v in (top or {}).items()})
    if part.get("finish_reason") is not None:
        choice.finish_reason = part["finish_reason"]
        choice.stop_reason = part.get("stop_reason")


class _DeadlinePassed(Exception):
    pass


class _Events:
    """The JSON objects of one response (server-sent events, or one whole body), read on a helper thread."""

    _END = object()

    def __init__(self, conn: http.client.HTTPConnection, response: http.client.HTTPResponse, sock: socket.socket,
                 stream: bool):
        self.conn, self.response, self.sock = conn, response, sock
        self.finished = False  # the whole response was read: the connection can be used again
        self._queue: queue.Queue = queue.Queue()
        self._closed = threading.Event()
        threading.Thread(target=self._read_stream if stream else self._read_body, name="remote-reply", daemon=True).start()

    def _read_body(self) -> None:
        try:
            self._queue.put(self.response.read())
            self.finished = True
            self._queue.put(self._END)
        except BaseException as exc:  # noqa: BLE001 - handed to the reading thread
            self._queue.put(exc if not self._closed.is_set() else self._END)

    def _read_stream(self) -> None:
        try:
            while True:
                line = self.response.readline()
                if not line:
                    self._queue.put(self._END)
                    return
                line = line.strip()
                if not line.startswith(b"data:"):
                    continue  # blank separators, comments, event names
                data = line[5:].strip()
                if data == b"[DONE]":
                    self.response.read()  # the end of the chunked body, so the connection is reusable
                    self.finished = True
                    self._queue.put(self._END)
                    return
                self._queue.put(data)
        except BaseException as exc:  # noqa: BLE001 - handed to the reading thread
            self._queue.put(exc if not self._closed.is_set() else self._END)

    def read(self, cancelled: Callable[[], bool], deadline: float | None, idle_timeout: float, url: str) -> Iterator[dict]:
        where = f"{url}/v1/completions"
        last = time.monotonic()
        while True:
            if cancelled():
                self.close()
                raise Aborted()
            now = time.monotonic()
            if deadline is not None and now > deadline:
                self.close()
                raise _DeadlinePassed()
            try:
                item = self._queue.get(timeout=0.02)
            except queue.Empty:
                if now - last > idle_timeout:
                    self.close()
                    raise RemoteError("timeout", f"{where}: nothing for {idle_timeout:.0f} s", url) from None
                continue
            last = time.monotonic()
            if item is self._END:
                if not self.finished:
                    raise RemoteError("disconnected", f"{where}: the server closed the connection mid-reply", url,
                                      retryable=True)
                return
            if isinstance(item, BaseException):
                if isinstance(item, (socket.timeout, TimeoutError)):
                    raise RemoteError("timeout", f"{where}: nothing for {idle_timeout:.0f} s", url)
                if isinstance(item, (OSError, http.client.HTTPException)):
                    raise RemoteError("disconnected", f"{where}: the connection broke mid-reply ({type(item).__name__})",
                                      url, retryable=True)
                raise item
            try:
                event = json.loads(item)
            except ValueError:
                raise RemoteError("malformed", f"{where}: a reply that is not JSON ({item[:80]!r})", url) from None
            if not isinstance(event, dict):
                raise RemoteError("malformed", f"{where}: a reply that is not a JSON object", url)
            yield event

    def close(self) -> None:
        """Close the connection now (the reader thread ends); the server sees the client go."""
        self._closed.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the reader thread; the server reads end of stream
        except OSError:
            pass
        self.response.close()
        self.conn.close()


def completion_body(
    model: str,
    prompt_ids: Sequence[int],
    max_tokens: int,
    stop_token_ids: Sequence[int],
    *,
    n: int = 1,
    temperature: float = 0.0,
    top_p: float = 1.0,
    top_k: int = 0,
    seed: int | None = None,
    beam_search: bool = False,
    length_penalty: float = 1.0,
    stop: Sequence[str] = (),
    top_logprobs: int = 0,
) -> dict:
    """The ``/v1/completions`` request for a prompt of token ids, as Galactica needs it.

    ``skip_special_tokens`` off, so ``[START_REF]``/``[END_REF]`` and
    ``<work>`` come back; the stop ids said explicitly (Galactica's tokenizer
    names no eos); token ids instead of token strings, and the log-probability
    of every generated token (plus ``top_logprobs`` alternatives).
    """
    body = {
        "model": model,
        "prompt": list(prompt_ids),
        "max_tokens": max_tokens,
        "n": n,
        "temperature": temperature,
        "top_p": top_p,
        "top_k": top_k if top_k > 0 else -1,
        "stop_token_ids": list(stop_token_ids),
        "ignore_eos": True,  # only the stop ids end a sequence, as locally
        "skip_special_tokens": False,
        "spaces_between_special_tokens": False,
        "logprobs": top_logprobs,
        "return_tokens_as_token_ids": True,
    }
    if stop:
        body["stop"] = list(stop)
    if seed is not None:
        body["seed"] = seed
    if beam_search:
        body.update(use_beam_search=True, length_penalty=length_penalty, temperature=0.0)
    return body
