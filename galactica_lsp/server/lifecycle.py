"""The session: initialize, settings, documents closing, shutdown.

LSP methods: ``initialize`` (keeps ``initializationOptions``),
``initialized`` (reads ``workspace/configuration`` and starts loading the model
in the background), ``workspace/didChangeConfiguration`` (applies settings
live, reloading the model when model, device or dtype change),
``textDocument/didClose`` (cancels that document's work) and ``shutdown``.
"""

from __future__ import annotations

import logging

from lsprotocol import types

from ..settings import SECTION, parse
from . import bibliography
from .server import GalacticaServer

log = logging.getLogger(__name__)


def register(server: GalacticaServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: GalacticaServer, params: types.InitializeParams) -> None:
        ls.initialization_options = params.initialization_options

    @server.feature(types.INITIALIZED)
    def initialized(ls: GalacticaServer, params: types.InitializedParams) -> None:
        ls.run_task(ls.read_settings(), "read settings")

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(ls: GalacticaServer, params: types.DidChangeConfigurationParams) -> None:
        pushed = params.settings.get(SECTION) if isinstance(params.settings, dict) else None
        if isinstance(pushed, dict):
            settings, errors = parse(pushed, ls.base_settings)
            ls.apply_settings(settings, errors)
        else:  # the client only says "something changed": ask it
            ls.run_task(ls.read_settings(), "re-read settings")

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: GalacticaServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.forget(params.text_document.uri)
        bibliography.forget(ls, params.text_document.uri)

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: GalacticaServer, params) -> None:
        ls.engine.worker.shutdown(wait=False)

