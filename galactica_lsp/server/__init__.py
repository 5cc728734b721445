"""The language server: pygls 2.x, one module per LSP feature.

- ``server``: the server object, shared state and helpers;
- ``lifecycle``: initialize, settings, closing documents;
- ``completion``: ghost text and the completion menu;
- ``citations``: reference suggestions;
- ``bibliography``: the user's ``.bib`` files: loading, diagnostics, quick fixes, new entries;
- ``explain``: hover, code actions and commands;
- ``positions``, ``window``: positions ↔ offsets, and the window analysis reads.
"""

from __future__ import annotations

import logging

from ..engine.service import Engine
from ..settings import Settings
from . import bibliography, completion, explain, lifecycle
from .server import GalacticaServer

log = logging.getLogger(__name__)


def create_server(engine: Engine | None = None, base_settings: Settings | None = None) -> GalacticaServer:
    server = GalacticaServer(engine, base_settings)
    for feature in (lifecycle, completion, explain, bibliography):
        feature.register(server)
    return server


def serve(args) -> int:
    """Run the server on stdio, TCP or WebSocket; the command-line model options are its defaults."""
    base = Settings(model=args.model, device=args.device, dtype=args.dtype, engine=args.engine)
    server = create_server(base_settings=base)
    if args.tcp:
        log.info("serving on tcp://%s:%d", args.host, args.port)
        server.start_tcp(args.host, args.port)
    elif args.ws:
        log.info("serving on ws://%s:%d", args.host, args.port)
        server.start_ws(args.host, args.port)
    else:
        server.start_io()
    return 0
