"""The language server object: state and the helpers every feature shares.

Owns: :class:`GalacticaServer` (a pygls ``LanguageServer``) with the engine,
the current settings, background tasks kept referenced with their failures
logged, open-document lookup (``documents``: one normalised URI, a line
index per text), the "latest request wins" rule per document and feature,
the ``galactica/status`` notification, and the model's life cycle (load after ``initialized``, reload when the model
settings change, progress through ``window/workDoneProgress``).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.lsp.server import LanguageServer

from .. import __version__
from ..engine.service import Engine, Galactica
from ..engine.types import Cancelled, Priority, Progress
from ..engine.worker import Job
from ..settings import SECTION, Settings, parse
from .documents import Documents, OpenDocument
from .positions import encoding_name
from .protocol import GalacticaProtocol

log = logging.getLogger(__name__)
T = TypeVar("T")

STATUS_NOTIFICATION = "galactica/status"
# Documents larger than this are served from a window around the cursor only.
MAX_DOCUMENT_CHARS = 50_000_000


class Superseded(Exception):
    """A newer request for the same document and feature replaced this one."""


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
        self._loaded_key: tuple[str, str, str] | None = None
        self.latencies: dict[str, float] = {}
        self.shown: dict[str, Any] = {}  # per document, the last suggestions answered (completion.Shown)

    def report_server_error(self, error: Exception, source) -> None:
        """Logged, never shown: requests already carry their error (``protocol``), the rest is the log's."""
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
        """The negotiated position encoding: ``utf-8``, ``utf-16`` or ``utf-32``."""
        return encoding_name(self.workspace.position_encoding)

    @property
    def workspace(self) -> Documents:
        return self.protocol.workspace

    def document(self, uri: str) -> OpenDocument | None:
        """An open document under any spelling of its URI, or None (with a log line) for one never opened."""
        synced = self.workspace.find(uri)
        if synced is None:
            log.info("request for %s, which is not open: answered empty", uri)
            return None
        language = normalise_language(synced.language_id, synced.uri)
        return OpenDocument(synced.uri, synced.source, language, synced.version, synced.index)

    def forget(self, uri: str) -> None:
        """A document closed: drop what was kept for it and cancel its work."""
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
        key = (settings.model, settings.device, settings.dtype, settings.engine, settings.endpoint)
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
            s.model, device=s.device, dtype=s.dtype, engine=s.engine, endpoint=s.endpoint,
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
