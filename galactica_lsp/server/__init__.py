"""The language server: pygls 2.x, one module per LSP feature.

- ``server``: the server object, shared state and helpers;
- ``protocol``: what reaches the server and how it answers (framing, JSON-RPC's rules);
- ``documents``: open documents under one normalised URI, changed exactly as the client changed them;
- ``transport``: stdio, TCP and WebSocket, one session each, and how the process ends;
- ``lifecycle``: initialize, settings, closing documents;
- ``completion``: ghost text and the completion menu;
- ``citations``: reference suggestions;
- ``bibliography``: the user's ``.bib`` files: loading, diagnostics, quick fixes, new entries;
- ``explain``: hover, code actions and commands;
- ``positions``, ``window``: positions ↔ offsets, and the window analysis reads.
"""

from __future__ import annotations

from typing import NoReturn

from ..engine.service import Engine
from ..settings import Settings
from . import bibliography, completion, explain, lifecycle, transport
from .server import GalacticaServer


def create_server(engine: Engine | None = None, base_settings: Settings | None = None) -> GalacticaServer:
    server = GalacticaServer(engine, base_settings)
    for feature in (lifecycle, completion, explain, bibliography):
        feature.register(server)
    return server


def serve(args) -> NoReturn:
    """Serve one client on stdio, TCP or WebSocket (``transport``); the command-line model options are its defaults.

    Ends the process: status 0 after ``shutdown`` then ``exit``, or when the client goes away; 1 for ``exit``
    without ``shutdown``.
    """
    base = Settings(model=args.model, device=args.device, dtype=args.dtype, engine=args.engine, endpoint=args.endpoint)
    server = create_server(base_settings=base)
    how = "tcp" if args.tcp else "ws" if args.ws else "stdio"
    transport.run(server, how, args.host, args.port)
