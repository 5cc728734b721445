"""Registers every LSP method once and asks each feature for its part (esbonio's way).

LSP methods registered here, shared by several features: ``initialized`` and
``workspace/didChangeConfiguration`` (settings read by ``lifecycle``, then
each feature told what changed), ``textDocument/didOpen``, ``didChange``,
``didSave`` and ``didClose`` (each feature's part; closing also drops the
server's own state for the document), and ``textDocument/codeAction`` (every
feature's actions, in the order of :data:`FEATURES`). A feature's own methods
and commands are registered by its ``register``. A part that fails is logged
and the others still run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from lsprotocol import types

from ..settings import SECTION, Settings
from . import bibliography, citations, completion, explain, lifecycle, paragraph, verification
from .features import ACTION_KIND, Feature
from .server import GalacticaServer

log = logging.getLogger(__name__)

FEATURES: tuple[Feature, ...] = (
    lifecycle.FEATURE, completion.FEATURE, explain.FEATURE, bibliography.FEATURE, citations.FEATURE,
    paragraph.FEATURE, verification.FEATURE,
)


def _each(what: str, call: Callable[[Feature], Callable | None], *args) -> list:
    """Call one part of every feature that has it; a failing part is logged, the others still run."""
    results = []
    for feature in FEATURES:
        part = call(feature)
        if part is None:
            continue
        try:
            results.append(part(*args))
        except Exception:
            log.exception("%s of %s failed", what, feature.name)
    return results


def settings_changed(ls: GalacticaServer, previous: Settings) -> None:
    if ls.settings != previous:
        _each("settings_changed", lambda f: f.settings_changed, ls, previous)


async def configure(ls: GalacticaServer, first: bool) -> None:
    previous = ls.settings
    await lifecycle.read_settings(ls, first)
    settings_changed(ls, previous)


def setup(server: GalacticaServer) -> GalacticaServer:
    for feature in FEATURES:
        if feature.register is not None:
            feature.register(server)

    @server.feature(types.INITIALIZED)
    def initialized(ls: GalacticaServer, params: types.InitializedParams) -> None:
        ls.run_task(configure(ls, first=True), "read settings")

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(ls: GalacticaServer, params: types.DidChangeConfigurationParams) -> None:
        raw = params.settings.get(SECTION) if isinstance(params.settings, dict) else None
        if isinstance(raw, dict):
            previous = ls.settings
            lifecycle.push_settings(ls, raw)
            settings_changed(ls, previous)
        else:  # the client only says "something changed": ask it
            ls.run_task(configure(ls, first=False), "re-read settings")

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: GalacticaServer, params: types.DidOpenTextDocumentParams) -> None:
        _each("opened", lambda f: f.opened, ls, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: GalacticaServer, params: types.DidChangeTextDocumentParams) -> None:
        _each("changed", lambda f: f.changed, ls, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: GalacticaServer, params: types.DidSaveTextDocumentParams) -> None:
        _each("saved", lambda f: f.saved, ls, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: GalacticaServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.forget(params.text_document.uri)
        _each("closed", lambda f: f.closed, ls, params.text_document.uri)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[ACTION_KIND, types.CodeActionKind.QuickFix], resolve_provider=False),
    )
    def code_actions(ls: GalacticaServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        doc = ls.document(params.text_document.uri)
        if doc is None or not ls.language_enabled(doc.language):
            return []
        start = doc.offset(params.range.start, ls.encoding)
        end = doc.offset(params.range.end, ls.encoding)
        found = _each("code_actions", lambda f: f.code_actions, ls, doc, start, end, params)
        return [action for actions in found for action in actions]

    return server
