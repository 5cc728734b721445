"""The language server: pygls 2.x, one module per LSP feature.

- ``server``: the server object, shared state and helpers;
- ``protocol``: what reaches the server and how it answers (framing, JSON-RPC's rules);
- ``documents``: open documents under one normalised URI, changed exactly as the client changed them;
- ``transport``: stdio, TCP and WebSocket, one session each, and how the process ends;
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

from typing import NoReturn

from ..engine.service import Engine
from ..settings import Settings
from . import transport
from .server import GalacticaServer
from .setup import setup


def create_server(engine: Engine | None = None, base_settings: Settings | None = None) -> GalacticaServer:
    return setup(GalacticaServer(engine, base_settings))


def serve(args) -> NoReturn:
    """Serve one client on stdio, TCP or WebSocket (``transport``); the command-line model options are its defaults.

    Ends the process: status 0 after ``shutdown`` then ``exit``, or when the client goes away; 1 for ``exit``
    without ``shutdown``.
    """
    base = Settings(model=args.model, device=args.device, dtype=args.dtype, engine=args.engine)
    server = create_server(base_settings=base)
    how = "tcp" if args.tcp else "ws" if args.ws else "stdio"
    transport.run(server, how, args.host, args.port)
