"""The language server object: state and the helpers every feature shares.

Owns: :class:`GalacticaServer` (a pygls ``LanguageServer``) with the engine,
the current settings, background tasks kept referenced with their failures
logged, open-document lookup (``documents``: one normalised URI, a line
index per text), the "latest request wins" rule per document and feature,
the ``galactica/status`` notification, messages to the user, and the state
features keep (declared: the settings and the model asked for and serving
here; each feature's own state object through :meth:`GalacticaServer.state`).
The settings and the model's life cycle are ``lifecycle``'s; command arguments
are read by the converter of ``arguments``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from .. import __version__
from ..analysis.language import normalise_language
from ..engine.service import Engine, Galactica
from ..engine.types import Cancelled, Priority
from ..engine.worker import Job
from ..settings import Settings
from .arguments import converter
from .documents import Documents, OpenDocument
from .positions import encoding_name
from .protocol import GalacticaProtocol

log = logging.getLogger(__name__)
T = TypeVar("T")
S = TypeVar("S")
ModelKey = tuple[str, str, str, str]  # model, device, dtype, engine: what a load is asked for

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
            converter_factory=converter,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
        )
        self.engine = engine or Engine()
        self.base_settings = base_settings or Settings()  # the command line's model options over the defaults
        self.settings = self.base_settings
        self.initialization_options: Any = None
        self.tasks: set[asyncio.Task] = set()
        self._latest: dict[tuple[str, str], Job] = {}
        self.model_key: ModelKey | None = None  # the model last asked for (loading or loaded)
        self.serving_key: ModelKey | None = None  # the model last loaded: what a failed switch falls back to
        self.latencies: dict[str, float] = {}
        self.shown: dict[str, Any] = {}  # per document, the last suggestions answered (completion.Shown)
        self._states: dict[type, Any] = {}  # one state object per feature, by its type (see state())

    def report_server_error(self, error: Exception, source) -> None:
        """Logged, never shown: requests already carry their error (``protocol``), the rest is the log's."""
        log.error("server error from %s: %s", getattr(source, "__name__", source), error)

    def state(self, kind: type[S]) -> S:
        """A feature's state: one instance of its (fully defaulted) state class per server, made on first use."""
        found = self._states.get(kind)
        if found is None:
            found = self._states[kind] = kind()
        return found

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
