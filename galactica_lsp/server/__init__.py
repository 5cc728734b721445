"""The language server: pygls 2.x, one module per LSP feature.

- ``server``: the server object, shared state and helpers;
- ``setup``: registers each LSP method once and asks every feature for its part;
- ``features``: what a feature contributes (:class:`~.features.Feature`);
- ``lifecycle``: initialize, settings, the model's life cycle, status, shutdown;
- ``completion``: ghost text and the completion menu;
- ``citations``: reference suggestions (menu items, code action, command);
- ``bibliography``: the user's ``.bib`` files: loading, diagnostics, quick fixes, new entries;
- ``explain``: formula hover, code actions and command;
- ``paragraph``: continue the paragraph (code action and command);
- ``commands``, ``arguments``: command plumbing, and typed command arguments read strictly;
- ``progress``: progress bars in the editor;
- ``positions``, ``window``: positions ↔ offsets, and the window analysis reads.

Imports go one way: features → ``commands``/``progress``/``features`` → ``server``
→ ``arguments``; ``citations`` → ``bibliography``, ``completion`` → ``citations``;
``setup`` imports the features. No feature imports ``setup``.
"""

from __future__ import annotations

import logging

from ..engine.service import Engine
from ..settings import Settings
from .server import GalacticaServer
from .setup import setup

log = logging.getLogger(__name__)


def create_server(engine: Engine | None = None, base_settings: Settings | None = None) -> GalacticaServer:
    return setup(GalacticaServer(engine, base_settings))


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
