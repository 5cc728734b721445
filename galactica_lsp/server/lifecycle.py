"""The session: initialize, settings, the model's life cycle, status, shutdown.

LSP methods: ``initialize`` (keeps ``initializationOptions`` and starts
importing torch on the engine's worker: ``Engine.preload``), ``shutdown``,
and ``workspace/executeCommand`` for ``galactica.status``. ``setup`` calls
:func:`read_settings` after ``initialized`` and :func:`push_settings` or
:func:`read_settings` on ``workspace/didChangeConfiguration``.

Settings come in layers: the defaults, the command line's model options
(``ls.base_settings``), ``initializationOptions``, then ``workspace/
configuration`` or a pushed section. In a pushed section a bad value keeps the
value in use (and says so), and a setting left out goes back to the lower
layers. A change of model, device, dtype or engine loads the new model in the
background, with progress; when that load fails the model in use keeps
serving, its settings stay in ``ls.settings``, and the user is told why.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

from lsprotocol import types
from pygls.capabilities import get_capability

from ..engine.types import Cancelled, Progress
from ..settings import SECTION, Settings, camel, parse, to_wire
from .commands import command
from .features import Feature
from .progress import WorkDone
from .server import GalacticaServer, ModelKey

log = logging.getLogger(__name__)

STATUS = "galactica.status"
CONFIGURATION_TIMEOUT_S = 5
_MODEL_FIELDS = ("model", "device", "dtype", "engine", "endpoint")


def model_key(settings: Settings) -> ModelKey:
    return (settings.model, settings.device, settings.dtype, settings.engine, settings.endpoint)


def section(options: Any) -> Any:
    """Settings may come bare or under a ``galactica`` key."""
    if isinstance(options, dict) and isinstance(options.get(SECTION), dict):
        return options[SECTION]
    return options


def pushed(raw: Any, current: Settings, lower: Settings) -> tuple[Settings, list[str]]:
    """A section the client sent: good values taken, bad ones keep ``current``'s, absent ones take ``lower``'s."""
    if not isinstance(raw, dict):
        return parse(raw, current)
    given = {f.name for f in dataclasses.fields(Settings) if f.name in raw or camel(f.name) in raw}
    return parse(raw, lower.replace(**{name: getattr(current, name) for name in given}))


def initial(ls: GalacticaServer) -> tuple[Settings, list[str]]:
    """The layers below workspace/configuration: defaults, command line, initializationOptions."""
    return parse(section(ls.initialization_options), ls.base_settings)


async def read_settings(ls: GalacticaServer, first: bool) -> None:
    """initializationOptions, overlaid by workspace/configuration where the client has it.

    ``first``: the session's first read (initializationOptions' own problems are shown then only).
    """
    lower, errors = initial(ls)
    if not first:
        errors = []
    settings = lower if first else ls.settings
    if get_capability(ls.client_capabilities, "workspace.configuration", False):
        try:
            answer = await asyncio.wait_for(
                ls.workspace_configuration_async(
                    types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])
                ),
                timeout=CONFIGURATION_TIMEOUT_S,
            )
        except Exception as exc:  # a client that does not answer must not keep the model from loading
            log.warning("workspace/configuration failed: %s", exc)
        else:
            raw = answer[0] if answer else None
            if raw is not None:
                settings, more = pushed(raw, settings, lower)
                errors += more
    apply_settings(ls, settings, errors)


def push_settings(ls: GalacticaServer, raw: dict) -> None:
    """A section pushed in workspace/didChangeConfiguration."""
    settings, errors = pushed(raw, ls.settings, initial(ls)[0])
    apply_settings(ls, settings, errors)


def apply_settings(ls: GalacticaServer, settings: Settings, errors: list[str]) -> None:
    for error in errors:
        ls.show(error)
    ls.settings = settings
    key = model_key(settings)
    if key != ls.model_key:
        ls.model_key = key
        ls.run_task(load_model(ls, settings), f"load {settings.model}")


async def load_model(ls: GalacticaServer, s: Settings) -> None:
    """Load (or switch to) a model in the background, with progress; on failure keep what serves."""
    key = model_key(s)
    loop = asyncio.get_running_loop()
    bar = await WorkDone(ls, f"Loading Galactica ({s.model})", measured=True).begin()

    def report(p: Progress) -> None:  # called on the worker thread
        if p.stage == "ready":
            return  # said below, once the server has the model
        percentage = int(100 * p.fraction) if p.fraction is not None else None
        loop.call_soon_threadsafe(_report_load, ls, bar, p.message, percentage)

    ls.notify_status("loading", f"loading {s.model}")
    job = ls.engine.start_load(
        s.model, device=s.device, dtype=s.dtype, engine=s.engine, endpoint=s.endpoint,
        context_tokens=s.context_tokens + s.max_new_tokens,
        sequences=max(s.suggestions, s.citation_suggestions), report=report,
    )
    try:
        loaded = await asyncio.wrap_future(job.future)
    except Cancelled:  # a newer model was asked for meanwhile: its load says what happens
        bar.end(f"{s.model}: replaced by a newer setting")
        return
    except Exception as exc:
        bar.end(f"failed: {exc}")
        _load_failed(ls, s, key, exc)
        return
    ls.serving_key = key
    bar.end(f"{loaded.describe()} ready")
    ls.notify_status("ready", f"{loaded.describe()} ready in {loaded.load_seconds:.1f} s")


def _report_load(ls: GalacticaServer, bar: WorkDone, message: str, percentage: int | None) -> None:
    ls.notify_status("loading", message, percentage)
    bar.report(message, percentage)


def _load_failed(ls: GalacticaServer, s: Settings, key: ModelKey, exc: Exception) -> None:
    """The model asked for cannot be loaded: keep (and say) what serves, and the settings that loaded it."""
    serving = ls.engine.loaded
    reason = str(exc) or type(exc).__name__
    if ls.model_key == key:  # no newer model asked for meanwhile
        fallback = ls.serving_key if serving is not None else None
        if fallback is not None:
            ls.settings = ls.settings.replace(**dict(zip(_MODEL_FIELDS, fallback)))
        ls.model_key = fallback  # the same value pushed again is tried again
    if serving is not None:
        ls.notify_status("ready", f"kept {serving.describe()}: cannot load {s.model!r}: {reason}")
        ls.show(f"cannot load model {s.model!r}: {reason}; still using {serving.source.name}",
                types.MessageType.Error)
    else:
        ls.notify_status("error", reason)
        ls.show(f"cannot load model {s.model!r}: {reason}", types.MessageType.Error)


def register(server: GalacticaServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: GalacticaServer, params: types.InitializeParams) -> None:
        ls.initialization_options = params.initialization_options
        # The answer goes out now; torch and the forward pass import meanwhile on the worker, ahead of the load,
        # which waits for ``initialized`` and the client's settings.
        ls.engine.preload()

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: GalacticaServer, params) -> None:
        ls.engine.worker.shutdown(wait=False)

    @command(server, STATUS)
    def status_command(ls: GalacticaServer):
        return {**ls.engine.status(), "settings": to_wire(ls.settings), "latenciesMs": dict(ls.latencies)}


FEATURE = Feature("lifecycle", register=register)
