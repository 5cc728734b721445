"""Command plumbing shared by every feature's ``workspace/executeCommand`` handlers.

Owns: :func:`command` (register a handler whose one argument is a typed
object from :mod:`.arguments`; what goes wrong becomes a JSON-RPC error with a
sentence, never a traceback: bad arguments ``InvalidParams``, no model or a
refused action ``RequestFailed``, cancellation ``RequestCancelled``), the
errors features raise (:class:`BadArguments`, :class:`CommandFailed`),
:func:`open_document` (an argument's ``uri`` to an open document), wire forms
of positions and ranges for command arguments, and inserting text through
``workspace/applyEdit``.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import typing
from collections.abc import Callable
from typing import Any

import attrs
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInternalError, JsonRpcInvalidParams, JsonRpcRequestCancelled

from ..engine.types import Cancelled, ModelNotReady
from .arguments import fields_of
from .server import GalacticaServer, OpenDocument, Superseded

log = logging.getLogger(__name__)

REQUEST_FAILED = -32803  # LSP 3.17 RequestFailed
APPLY_TIMEOUT_S = 10


class BadArguments(ValueError):
    """A command was sent arguments it cannot use (answered with InvalidParams)."""


class CommandFailed(RuntimeError):
    """A command could not do what it was asked, for a reason the user should read (RequestFailed)."""


def command(server: GalacticaServer, name: str) -> Callable:
    """``@command(server, NAME)``: register ``async def handler(ls, args: SomeArguments)`` (or ``(ls)``).

    pygls structures the argument into the annotated class; a missing argument, or
    an error raised by the handler, is mapped to the JSON-RPC error the editor shows.
    """

    def decorator(handler: Callable) -> Callable:
        wanted = _argument_class(handler)

        @functools.wraps(handler)
        async def wrapped(ls: GalacticaServer, *args: Any) -> Any:
            if wanted is not None and not args:
                raise JsonRpcInvalidParams(f"{name} expects one argument, an object {fields_of(wanted)}")
            try:
                result = handler(ls, *args)
                return await result if inspect.isawaitable(result) else result
            except JsonRpcException:
                raise
            except BadArguments as exc:
                raise JsonRpcInvalidParams(f"{name}: {exc}") from None
            except (ModelNotReady, CommandFailed) as exc:
                raise JsonRpcException(f"{name}: {exc}", code=REQUEST_FAILED) from None
            except (Cancelled, Superseded, asyncio.CancelledError) as exc:
                raise JsonRpcRequestCancelled(f"{name} cancelled: {exc}") from None
            except Exception as exc:  # a defect: the log has the traceback, the editor a sentence
                log.exception("%s failed", name)
                raise JsonRpcInternalError(f"{name} failed: {type(exc).__name__}: {exc}") from None

        server.command(name)(wrapped)
        return handler

    return decorator


def _argument_class(handler: Callable) -> type | None:
    """The attrs class of the handler's argument (the parameter after the server), if it takes one."""
    parameters = list(inspect.signature(handler).parameters)
    if len(parameters) < 2:
        return None
    hint = typing.get_type_hints(handler).get(parameters[1])
    options = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    return options[0] if attrs.has(options[0]) else None


def open_document(ls: GalacticaServer, uri: str) -> OpenDocument:
    doc = ls.document(uri)
    if doc is None:
        raise BadArguments(f"document {uri!r} is not open")
    return doc


def open_at(ls: GalacticaServer, uri: str, position: types.Position) -> tuple[OpenDocument, int]:
    """An argument's document and the offset of its position (clamped into the text)."""
    doc = open_document(ls, uri)
    return doc, doc.offset(position, ls.encoding)


def wire_position(p: types.Position) -> dict:
    return {"line": p.line, "character": p.character}


def wire_range(r: types.Range) -> dict:
    return {"start": wire_position(r.start), "end": wire_position(r.end)}


async def apply_edit(ls: GalacticaServer, edit: types.WorkspaceEdit, label: str) -> bool:
    """Send an edit through workspace/applyEdit; True when the client applied it."""
    try:
        answer = await asyncio.wait_for(
            ls.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(edit=edit, label=label)),
            timeout=APPLY_TIMEOUT_S,
        )
    except Exception as exc:
        log.warning("applyEdit failed: %s", exc)
        return False
    if answer and not answer.applied:
        log.info("the client did not apply %r: %s", label, answer.failure_reason)
    return bool(answer and answer.applied)


async def insert_text(ls: GalacticaServer, doc: OpenDocument, offset: int, text: str, label: str) -> bool:
    """Insert text into a document through workspace/applyEdit; True when the client applied it."""
    position = doc.position(offset, ls.encoding)
    edit = types.WorkspaceEdit(changes={doc.uri: [types.TextEdit(range=types.Range(position, position), new_text=text)]})
    return await apply_edit(ls, edit, label)
