"""Progress bars in the editor (``window/workDoneProgress``), the one helper every feature uses.

Owns: :class:`WorkDone`, a progress bar for one piece of long work (a model
load, an explanation, a paragraph). Asking the client for a token is skipped
when it has no progress support, and every call is then a no-op, so callers
never branch on the capability. A cancellable bar exposes ``cancelled_by``, a
future the editor's cancel button cancels.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.lsp.server import LanguageServer

from ..engine.types import Cancelled

log = logging.getLogger(__name__)

CREATE_TIMEOUT_S = 5


class WorkDone:
    """``async with WorkDone(ls, title) as bar``, or ``await bar.begin()`` … ``bar.end(message)``."""

    def __init__(self, ls: LanguageServer, title: str, cancellable: bool = False, measured: bool = False):
        """``measured``: the work reports percentages (the bar starts at 0 %)."""
        self.ls, self.title, self.cancellable, self.measured = ls, title, cancellable, measured
        self.token: str | None = None
        self.cancelled_by: asyncio.Future | None = None

    async def begin(self) -> WorkDone:
        if not get_capability(self.ls.client_capabilities, "window.work_done_progress", False):
            return self
        token = str(uuid.uuid4())
        try:
            await asyncio.wait_for(self.ls.work_done_progress.create_async(token), timeout=CREATE_TIMEOUT_S)
        except Exception as exc:
            log.info("no progress token: %s", exc)
            return self
        self.token = token
        self.ls.work_done_progress.begin(
            token, types.WorkDoneProgressBegin(title=self.title, cancellable=self.cancellable,
                                         percentage=0 if self.measured else None)
        )
        if self.cancellable:
            self.cancelled_by = asyncio.wrap_future(self.ls.work_done_progress.tokens[token])
        return self

    def report(self, message: str, percentage: int | None = None) -> None:
        if self.token is not None:
            self.ls.work_done_progress.report(self.token, types.WorkDoneProgressReport(message=message,
                                                                                       percentage=percentage))

    def end(self, message: str) -> None:
        if self.token is not None:
            token, self.token = self.token, None
            self.ls.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))
            self.ls.work_done_progress.tokens.pop(token, None)

    async def __aenter__(self) -> WorkDone:
        return await self.begin()

    async def __aexit__(self, kind, exc, tb) -> None:
        self.end("cancelled" if kind in (Cancelled, asyncio.CancelledError) else ("failed" if exc else "done"))


async def cancellable(work, cancelled_by: asyncio.Future | None):
    """Await ``work``; a cancelled ``cancelled_by`` (the editor's progress cancel button) cancels it."""
    task = asyncio.ensure_future(work)
    if cancelled_by is not None:
        cancelled_by.add_done_callback(lambda f: task.cancel() if f.cancelled() else None)
    try:
        return await task
    except asyncio.CancelledError:
        if cancelled_by is not None and cancelled_by.cancelled():
            raise Cancelled("cancelled from the editor") from None
        raise
