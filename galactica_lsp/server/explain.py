"""Formula explanations: hover, code actions and the commands behind them.

LSP methods: ``textDocument/hover`` on a math span (a Markdown explanation),
``textDocument/codeAction`` on a math span or a selection ("Explain formula",
"Explain step by step", "Translate formula to Python (SymPy)", "Suggest
citations here", "Continue paragraph", and the bibliography's quick fixes from
``bibliography``), and ``workspace/executeCommand`` for
``galactica.explainFormula``, ``galactica.suggestCitations``,
``galactica.continueParagraph`` and ``galactica.status``. Long work reports
``$/progress`` and stops when the editor cancels it.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import uuid
from collections import OrderedDict
from typing import Any

from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams, JsonRpcRequestCancelled

from ..analysis.context import prompt_before
from ..analysis.gate import in_prose
from ..analysis.insertion import insertion_for
from ..analysis.math_spans import math_span_at
from ..engine.types import Cancelled, DecodeSettings, Generation, ModelNotReady, Priority
from ..settings import to_wire
from .bibliography import quick_fixes
from .citations import described, suggest
from .server import GalacticaServer, OpenDocument, Superseded
from .window import window_at

log = logging.getLogger(__name__)

EXPLAIN = "galactica.explainFormula"
SUGGEST_CITATIONS = "galactica.suggestCitations"
CONTINUE = "galactica.continueParagraph"
STATUS = "galactica.status"
ACTIONS = (("explain", "Explain formula"), ("work", "Explain step by step"),
           ("sympy", "Translate formula to Python (SymPy)"))
ACTION_KIND = types.CodeActionKind.Refactor + ".galactica"
REQUEST_FAILED = -32803  # LSP 3.17 RequestFailed
# A paragraph ends at a blank line, or where a heading, section or display environment starts.
PARAGRAPH_STOPS = ("\n\n", "\n\\section", "\n\\subsection", "\n\\begin{", "\n#")


class BadArguments(ValueError):
    """A command was sent arguments it cannot use."""


class ExplanationCache:
    """Recent explanations by (model, mode, formula), so hovering again answers at once."""

    def __init__(self, size: int = 256):
        self.size = size
        self.entries: OrderedDict[tuple, Generation] = OrderedDict()

    def get(self, key: tuple) -> Generation | None:
        if key in self.entries:
            self.entries.move_to_end(key)
        return self.entries.get(key)

    def put(self, key: tuple, value: Generation) -> None:
        self.entries[key] = value
        self.entries.move_to_end(key)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)


def paragraph_text(gen: Generation) -> str:
    """What "continue paragraph" inserts: the generation, ending at a full sentence when cut short."""
    text = gen.text.rstrip()
    if gen.finish_reason in ("length", "time") and ". " in text:
        text = text[: text.rindex(". ") + 1]  # not mid-word
    return text


def formula_at(doc: OpenDocument, start: int, end: int) -> tuple[str, int, bool] | None:
    """The formula to explain: the selection if there is one, else the math span at the cursor.

    Returns (latex, offset of its end, whether it sits in a Python docstring).
    """
    if end > start:
        text = doc.text[start:end].strip().strip("$").strip()
        return (text, end, False) if text else None
    window = window_at(doc.text, start)
    span = math_span_at(window.text, window.cursor, doc.language)
    if span is None or not span.latex.strip():
        return None
    in_docstring = doc.language == "python" and not _line_of(window.text, span.start).lstrip().startswith("#")
    return span.latex, window.to_document(span.end), in_docstring


def _line_of(text: str, offset: int) -> str:
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    return text[start : end if end != -1 else len(text)]


async def explanation(ls: GalacticaServer, doc: OpenDocument, latex: str, mode: str, label: str,
                      cancelled_by: asyncio.Future | None = None) -> Generation:
    """Ask the model (or the cache); raises ModelNotReady, Superseded or Cancelled."""
    loaded = ls.engine.loaded
    key = (loaded.source.location if loaded else None, mode, latex)
    if (cached := ls.explanations.get(key)) is not None:
        return cached
    s = ls.settings
    work = ls.model(
        lambda g, cancelled: g.explain(latex, mode, s.explain_max_tokens, cancelled, time_limit=s.time_limit,
                                       budget=s.context_tokens),
        Priority.BACKGROUND,
        label,
        supersede=(doc.uri, label),
    )
    result = await _cancellable(work, cancelled_by)
    if result.finish_reason in ("eos", "stop"):
        ls.explanations.put(key, result)  # a cut-short answer is not kept
    return result


async def _cancellable(work, cancelled_by: asyncio.Future | None):
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


def hover_markdown(latex: str, gen: Generation, model: str) -> str:
    return (
        f"**Galactica** on `{latex}`:\n\n{gen.text}\n\n---\n"
        f"*{model}, {gen.confidence.token_probability:.0%} sure per word. Written by a language model: check it.*"
    )


def _arguments(args: tuple, names: tuple[str, ...]) -> dict:
    """Command arguments: one object with the named fields (as the code actions send them)."""
    if len(args) != 1 or not isinstance(args[0], dict) or any(n not in args[0] for n in names):
        raise BadArguments(f"expected one object with {', '.join(names)}")
    return args[0]


def _position(raw: Any) -> types.Position:
    try:
        return types.Position(line=int(raw["line"]), character=int(raw["character"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise BadArguments(f"bad position {raw!r}") from exc


def command_errors(handler):
    """Map what can go wrong in a command to JSON-RPC errors with a message the editor can show."""

    @functools.wraps(handler)
    async def wrapped(ls, *args):
        try:
            result = handler(ls, *args)
            return await result if inspect.isawaitable(result) else result
        except BadArguments as exc:
            raise JsonRpcInvalidParams(str(exc)) from None
        except ModelNotReady as exc:
            raise JsonRpcException(str(exc), code=REQUEST_FAILED) from None
        except (Cancelled, Superseded) as exc:
            raise JsonRpcRequestCancelled(f"cancelled: {exc}") from None

    return wrapped


def register(server: GalacticaServer) -> None:
    server.explanations = ExplanationCache()

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: GalacticaServer, params: types.HoverParams):
        doc = ls.document(params.text_document.uri)
        if doc is None or not ls.settings.hover or not ls.language_enabled(doc.language):
            return None
        offset = doc.offset(params.position, ls.encoding)
        window = window_at(doc.text, offset)
        span = math_span_at(window.text, window.cursor, doc.language)
        if span is None or not span.latex.strip():
            return None
        try:
            gen = await explanation(ls, doc, span.latex, "explain", "hover")
        except ModelNotReady:
            ls.not_ready("hover")
            return None
        except Superseded:
            return None
        if not gen.text:
            return None
        return types.Hover(
            contents=types.MarkupContent(kind=types.MarkupKind.Markdown,
                                         value=hover_markdown(span.latex, gen, ls.engine.loaded.source.name)),
            range=doc.range(window.to_document(span.start), window.to_document(span.end), ls.encoding),
        )

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[ACTION_KIND, types.CodeActionKind.QuickFix], resolve_provider=False),
    )
    def code_actions(ls: GalacticaServer, params: types.CodeActionParams):
        doc = ls.document(params.text_document.uri)
        if doc is None or not ls.language_enabled(doc.language):
            return []
        start = doc.offset(params.range.start, ls.encoding)
        end = doc.offset(params.range.end, ls.encoding)
        where = {"uri": doc.uri, "range": _wire_range(doc.range(start, end, ls.encoding))}
        actions = []
        if formula_at(doc, start, end) is not None:
            for mode, title in ACTIONS:
                command = types.Command(title=title, command=EXPLAIN, arguments=[{**where, "mode": mode}])
                actions.append(types.CodeAction(title=f"Galactica: {title}", kind=ACTION_KIND, command=command))
        actions += quick_fixes(ls, doc, start, end, params.context.diagnostics)  # the bibliography's
        # Citations and paragraphs belong in running text, not in code, math or a preamble; and only when
        # asked (Ctrl+. or a menu), or the editor's light bulb would sit on every line of prose.
        automatic = params.context.trigger_kind == types.CodeActionTriggerKind.Automatic
        if automatic or not in_prose(doc.text, end, doc.language):
            return actions
        position = {"uri": doc.uri, "position": _wire_position(doc.position(end, ls.encoding))}
        for title, name in (("Suggest citations here", SUGGEST_CITATIONS), ("Continue paragraph", CONTINUE)):
            command = types.Command(title=title, command=name, arguments=[position])
            actions.append(types.CodeAction(title=f"Galactica: {title}", kind=ACTION_KIND, command=command))
        return actions

    @server.command(EXPLAIN)
    @command_errors
    async def explain_command(ls: GalacticaServer, *args):
        """Explain the formula at a range and insert the answer; returns what was written."""
        a = _arguments(args, ("uri", "range"))
        mode = a.get("mode", "explain")
        doc = _open(ls, a["uri"])
        start = doc.offset(_position(a["range"].get("start")), ls.encoding)
        end = doc.offset(_position(a["range"].get("end")), ls.encoding)
        found = formula_at(doc, start, end)
        if found is None:
            raise BadArguments("no formula there: put the cursor in a math span or select one")
        latex, span_end, in_docstring = found
        async with _progress(ls, f"Galactica: {dict(ACTIONS).get(mode, mode)}") as cancelled_by:
            gen = await explanation(ls, doc, latex, mode, f"{mode} command", cancelled_by)
        result = {"latex": latex, "mode": mode, "text": gen.text, "confidence": round(gen.confidence.token_probability, 4),
                  "finishReason": gen.finish_reason, "inserted": False}
        if a.get("insert", True) and gen.text:
            doc = _open(ls, a["uri"])  # the text may have changed while the model worked
            edit = insertion_for(doc.text, min(span_end, len(doc.text)), doc.language, mode, gen.text, in_docstring)
            result["inserted"] = await _apply(ls, doc, edit.offset, edit.text, f"Galactica: {mode}")
        return result

    @server.command(SUGGEST_CITATIONS)
    @command_errors
    async def suggest_command(ls: GalacticaServer, *args):
        """Suggestions for the prose before a position, for a picker in the editor."""
        a = _arguments(args, ("uri", "position"))
        doc = _open(ls, a["uri"])
        offset = doc.offset(_position(a["position"]), ls.encoding)
        prompt = prompt_before(doc.text, offset, doc.language, ls.settings.context_tokens).text
        suggestions = await suggest(ls, doc, prompt)
        if suggestions is None:
            return {"suggestions": [], "message": ls.engine.not_ready_reason() if ls.engine.state != "ready" else ""}
        return {"suggestions": await described(ls, doc, suggestions), "message": ""}

    @server.command(CONTINUE)
    @command_errors
    async def continue_command(ls: GalacticaServer, *args):
        """Write the next sentences of the paragraph at a position."""
        a = _arguments(args, ("uri", "position"))
        doc = _open(ls, a["uri"])
        offset = doc.offset(_position(a["position"]), ls.encoding)
        prompt = prompt_before(doc.text, offset, doc.language, ls.settings.context_tokens)
        settings = DecodeSettings(max_new_tokens=ls.settings.explain_max_tokens, stop_strings=PARAGRAPH_STOPS,
                                  time_limit=ls.settings.time_limit)
        async with _progress(ls, "Galactica: continue paragraph") as cancelled_by:
            gens = await _cancellable(
                ls.model(lambda g, c: g.complete(prompt.text, settings, c, new_document=prompt.starts_document,
                                                 budget=ls.settings.context_tokens),
                         Priority.BACKGROUND, "continue paragraph", supersede=(doc.uri, "continue")),
                cancelled_by,
            )
        text = paragraph_text(gens[0])
        inserted = bool(text) and await _apply(ls, doc, offset, text, "Galactica: continue paragraph")
        return {"text": text, "inserted": inserted}

    @server.command(STATUS)
    @command_errors
    def status_command(ls: GalacticaServer, *args):
        return {**ls.engine.status(), "settings": to_wire(ls.settings), "latenciesMs": dict(ls.latencies)}


def _open(ls: GalacticaServer, uri: Any) -> OpenDocument:
    doc = ls.document(uri) if isinstance(uri, str) else None
    if doc is None:
        raise BadArguments(f"document {uri!r} is not open")
    return doc


def _wire_position(p: types.Position) -> dict:
    return {"line": p.line, "character": p.character}


def _wire_range(r: types.Range) -> dict:
    return {"start": _wire_position(r.start), "end": _wire_position(r.end)}


async def _apply(ls: GalacticaServer, doc: OpenDocument, offset: int, text: str, label: str) -> bool:
    """Insert text through workspace/applyEdit; True when the client applied it."""
    position = doc.position(offset, ls.encoding)
    edit = types.WorkspaceEdit(changes={doc.uri: [types.TextEdit(range=types.Range(position, position), new_text=text)]})
    try:
        answer = await asyncio.wait_for(
            ls.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(edit=edit, label=label)), timeout=10
        )
    except Exception as exc:
        log.warning("applyEdit failed: %s", exc)
        return False
    return bool(answer and answer.applied)


class _progress:
    """``async with _progress(ls, title) as cancelled_by``: a cancellable progress bar when the client has one."""

    def __init__(self, ls: GalacticaServer, title: str):
        self.ls, self.title, self.token = ls, title, None

    async def __aenter__(self) -> asyncio.Future | None:
        if not get_capability(self.ls.client_capabilities, "window.work_done_progress", False):
            return None
        token = str(uuid.uuid4())
        try:
            await asyncio.wait_for(self.ls.work_done_progress.create_async(token), timeout=5)
        except Exception as exc:
            log.info("no progress token: %s", exc)
            return None
        self.token = token
        self.ls.work_done_progress.begin(token, types.WorkDoneProgressBegin(title=self.title, cancellable=True))
        return asyncio.wrap_future(self.ls.work_done_progress.tokens[token])

    async def __aexit__(self, kind, exc, tb) -> None:
        if self.token is not None:
            message = "cancelled" if kind in (Cancelled, asyncio.CancelledError) else ("failed" if exc else "done")
            self.ls.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))
            self.ls.work_done_progress.tokens.pop(self.token, None)
