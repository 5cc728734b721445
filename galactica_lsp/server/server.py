"""The language server object: state and the helpers every feature shares.

Owns: :class:`GalacticaServer` (a pygls ``LanguageServer``) with the engine,
the current settings, background tasks kept referenced with their failures
logged, open-document lookup with a cached line index, the "latest request
wins" rule per document and feature, the ``galactica/status`` notification,
and the model's life cycle (load after ``initialized``, reload when the model
settings change, progress through ``window/workDoneProgress``).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol

from .. import __version__
from ..engine.service import Engine, Galactica
from ..engine.types import Cancelled, Priority, Progress
from ..engine.worker import Job
from ..settings import SECTION, Settings, parse
from .positions import LineIndex

log = logging.getLogger(__name__)
T = TypeVar("T")

STATUS_NOTIFICATION = "galactica/status"
# Documents larger than this are served from a window around the cursor only.
MAX_DOCUMENT_CHARS = 50_000_000


class Superseded(Exception):
    """A newer request for the same document and feature replaced this one."""


@dataclass
class OpenDocument:
    uri: str
    text: str
    language: str
    version: int | None
    index: LineIndex

    def offset(self, position: types.Position, encoding: str) -> int:
        return self.index.offset(position, encoding)

    def position(self, offset: int, encoding: str) -> types.Position:
        return self.index.position(offset, encoding)

    def range(self, start: int, end: int, encoding: str) -> types.Range:
        return types.Range(self.position(start, encoding), self.position(end, encoding))


class _Answered:
    """A request that could not be read and has already been answered with an error."""

    jsonrpc = "2.0"


class GalacticaProtocol(LanguageServerProtocol):
    """pygls's protocol, except that a request it cannot read is answered, never dropped."""

    def structure_message(self, data):
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if not (isinstance(data, dict) and "id" in data and "method" in data):
                raise
            log.warning("cannot read %s request %r: %s", data.get("method"), data.get("id"), exc.__cause__)
            message = f"{exc.message or type(exc).__name__}: the parameters of {data['method']} could not be read"
            self._send_response(data["id"], error=types.ResponseError(code=exc.code, message=message))
            return _Answered()

    def handle_message(self, message):
        if not isinstance(message, _Answered):
            super().handle_message(message)


class GalacticaServer(LanguageServer):
    def __init__(self, engine: Engine | None = None, base_settings: Settings | None = None):
        super().__init__(
            "galactica-lsp",
            __version__,
            protocol_cls=GalacticaProtocol,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
        )
        self.engine = engine or Engine()
        self.base_settings = base_settings or Settings()  # the command line's model options over the defaults
        self.settings = self.base_settings
        self.initialization_options: Any = None
        self.tasks: set[asyncio.Task] = set()
        self._latest: dict[tuple[str, str], Job] = {}
        self._indexes: dict[str, tuple[int | None, int, LineIndex]] = {}
        self._loaded_key: tuple[str, str, str] | None = None
        self.latencies: dict[str, float] = {}
        self.shown: dict[str, Any] = {}  # per document, the last suggestions answered (completion.Shown)

    def report_server_error(self, error: Exception, source) -> None:
        """A body that is not JSON gets JSON-RPC's parse error (id null); nothing is shown to the user."""
        if isinstance(error, ValueError) and not isinstance(error, JsonRpcException):
            log.warning("unreadable message: %s", error)
            self.protocol._send_response(None, error=types.ResponseError(code=-32700, message=f"Parse error: {error}"))
            return
        log.error("server error from %s: %s", getattr(source, "__name__", source), error)

    # -- background work -------------------------------------------------

    def run_task(self, coro: Coroutine, name: str) -> asyncio.Task:
        """Start a background task, keep it referenced, and log how it failed if it did."""
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)

        def done(t: asyncio.Task) -> None:
            self.tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("%s failed", name, exc_info=t.exception())

        task.add_done_callback(done)
        return task

    # -- documents -----------------------------------------------------

    @property
    def encoding(self) -> str:
        return str(self.workspace.position_encoding or "utf-16")

    def document(self, uri: str) -> OpenDocument | None:
        """An open document, or None (with a log line) for one the client never opened."""
        if uri not in self.workspace.text_documents:
            log.info("request for %s, which is not open: answered empty", uri)
            return None
        doc = self.workspace.get_text_document(uri)
        text = doc.source
        cached = self._indexes.get(uri)
        if cached is None or cached[0] != doc.version or cached[1] != len(text):
            cached = (doc.version, len(text), LineIndex(text))
            self._indexes[uri] = cached
        return OpenDocument(uri, text, normalise_language(doc.language_id, uri), doc.version, cached[2])

    def forget(self, uri: str) -> None:
        self._indexes.pop(uri, None)
        self.shown.pop(uri, None)
        for key in [k for k in self._latest if k[0] == uri]:
            job = self._latest.pop(key)
            job.superseded = True  # the document is gone: its requests are answered empty
            job.cancel()

    def language_enabled(self, language: str) -> bool:
        return language in self.settings.languages

    # -- model work ----------------------------------------------------

    async def model(
        self,
        task: Callable[[Galactica, Callable[[], bool]], T],
        priority: Priority,
        label: str,
        supersede: tuple[str, str] | None = None,
    ) -> T:
        """Run a task on the engine worker.

        With ``supersede`` = (uri, feature), an older request with the same key
        is cancelled and raises :class:`Superseded`; ``$/cancelRequest`` cancels
        the awaiting task, which cancels the job. Raises :class:`ModelNotReady`
        at once when no model is loaded, never waiting for a load.
        """
        started = time.monotonic()
        job = self.engine.submit(task, priority, label)
        if priority == Priority.BACKGROUND:
            self.notify_status("busy", label)  # long work: the editor may show a spinner
        if supersede is not None:
            older = self._latest.get(supersede)
            if older is not None:
                older.superseded = True
                older.cancel()
            self._latest[supersede] = job
        try:
            return await asyncio.wrap_future(job.future)
        except (Cancelled, asyncio.CancelledError):
            job.cancel()
            current = asyncio.current_task()
            if job.superseded and not (current and current.cancelling()):
                raise Superseded(label) from None
            raise
        finally:
            if priority == Priority.BACKGROUND and self.engine.state == "ready":
                self.notify_status("ready", f"{label} done")
            if supersede is not None and self._latest.get(supersede) is job:
                del self._latest[supersede]
            self.latencies[label] = round((time.monotonic() - started) * 1000, 1)

    def not_ready(self, what: str) -> None:
        """A request came before the model was ready: say so in the status line (cheap, no queueing)."""
        self.notify_status(self.engine.state, f"{what}: {self.engine.not_ready_reason()}")

    # -- status and messages -----------------------------------------------

    def notify_status(self, state: str, message: str, percentage: int | None = None) -> None:
        params: dict[str, Any] = {"state": state, "message": message}
        loaded = self.engine.loaded
        if loaded is not None:
            params.update(model=loaded.source.name, device=loaded.placement.kind, dtype=loaded.placement.dtype,
                          engine=loaded.engine)
        if percentage is not None:
            params["percentage"] = percentage
        self.protocol.notify(STATUS_NOTIFICATION, params)

    def show(self, message: str, kind: types.MessageType = types.MessageType.Warning) -> None:
        log.warning("%s", message)
        self.window_show_message(types.ShowMessageParams(type=kind, message=f"Galactica: {message}"))

    # -- settings and the model's life cycle --------------------------------

    async def read_settings(self) -> None:
        """initializationOptions, overlaid by workspace/configuration where the client has it."""
        settings, errors = parse(_section(self.initialization_options), self.base_settings)
        if get_capability(self.client_capabilities, "workspace.configuration", False):
            try:
                answer = await asyncio.wait_for(
                    self.workspace_configuration_async(
                        types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])
                    ),
                    timeout=5,
                )
                settings, more = parse(answer[0] if answer else None, settings)
                errors += more
            except Exception as exc:  # a client that does not answer must not keep the model from loading
                log.warning("workspace/configuration failed: %s", exc)
        self.apply_settings(settings, errors)

    def apply_settings(self, settings: Settings, errors: list[str]) -> None:
        for error in errors:
            self.show(error)
        self.settings = settings
        key = (settings.model, settings.device, settings.dtype, settings.engine)
        if key != self._loaded_key:
            self._loaded_key = key
            self.run_task(self.load_model(), f"load {settings.model}")

    async def load_model(self) -> None:
        """Load (or switch to) the configured model in the background, with progress."""
        s = self.settings
        loop = asyncio.get_running_loop()
        progress = await self._begin_progress(f"Loading Galactica ({s.model})")

        def report(p: Progress) -> None:  # called on the worker thread
            if p.stage == "ready":
                return  # said below, once the server has the model
            percentage = int(100 * p.fraction) if p.fraction is not None else None
            loop.call_soon_threadsafe(self._report_load, progress, p.message, percentage)

        self.notify_status("loading", f"loading {s.model}")
        job = self.engine.start_load(
            s.model, device=s.device, dtype=s.dtype, engine=s.engine,
            context_tokens=s.context_tokens + s.max_new_tokens,
            sequences=max(s.suggestions, s.citation_suggestions), report=report,
        )
        try:
            loaded = await asyncio.wrap_future(job.future)
        except Exception as exc:
            self._end_progress(progress, f"failed: {exc}")
            self.notify_status("error", str(exc))
            self.show(f"cannot load model {s.model!r}: {exc}", types.MessageType.Error)
            return
        self._end_progress(progress, f"{loaded.describe()} ready")
        self.notify_status("ready", f"{loaded.describe()} ready in {loaded.load_seconds:.1f} s")

    async def _begin_progress(self, title: str) -> str | None:
        if not get_capability(self.client_capabilities, "window.work_done_progress", False):
            return None
        token = str(uuid.uuid4())
        try:
            await asyncio.wait_for(self.work_done_progress.create_async(token), timeout=5)
        except Exception as exc:
            log.info("no progress token: %s", exc)
            return None
        self.work_done_progress.begin(token, types.WorkDoneProgressBegin(title=title, percentage=0, cancellable=False))
        return token

    def _report_load(self, token: str | None, message: str, percentage: int | None) -> None:
        self.notify_status("loading", message, percentage)
        if token is not None:
            self.work_done_progress.report(token, types.WorkDoneProgressReport(message=message, percentage=percentage))

    def _end_progress(self, token: str | None, message: str) -> None:
        if token is not None:
            self.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))


def _section(options: Any) -> Any:
    """Settings may come bare or under a ``galactica`` key."""
    if isinstance(options, dict) and isinstance(options.get(SECTION), dict):
        return options[SECTION]
    return options


_LANGUAGE_IDS = {
    "latex": "latex", "tex": "latex", "plaintex": "latex", "context": "latex",
    "markdown": "markdown", "quarto": "markdown", "rmd": "markdown", "myst": "markdown", "pandoc": "markdown",
    "python": "python", "jupyter": "python",
}
_EXTENSIONS = {".tex": "latex", ".ltx": "latex", ".md": "markdown", ".markdown": "markdown", ".qmd": "markdown",
               ".rmd": "markdown", ".py": "python", ".pyi": "python"}


def normalise_language(language_id: str | None, uri: str) -> str:
    """The client's languageId, or the file extension when the id is unknown: latex, markdown, python or text."""
    if language_id and language_id.lower() in _LANGUAGE_IDS:
        return _LANGUAGE_IDS[language_id.lower()]
    dot = uri.rfind(".")
    return _EXTENSIONS.get(uri[dot:].lower(), "text") if dot != -1 else "text"
