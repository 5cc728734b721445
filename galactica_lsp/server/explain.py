"""Formula explanations: hover, the formula code actions and the command behind them.

LSP methods: ``textDocument/hover`` on a math span (a Markdown explanation);
this feature's part of ``textDocument/codeAction`` on a math span or a
selection ("Explain formula", "Explain step by step", "Translate formula to
Python (SymPy)"); and ``workspace/executeCommand`` for
``galactica.explainFormula`` (arguments :class:`ExplainArguments`), which
reports ``$/progress``, stops when the editor cancels it, and inserts the
answer through ``workspace/applyEdit``. Owns :class:`ExplanationCache`, this
feature's state.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass

import attrs
from lsprotocol import types

from ..analysis.insertion import insertion_for
from ..analysis.math_spans import math_span_at
from ..engine.types import Generation, ModelNotReady, Priority
from .arguments import arguments, one_of
from .commands import BadArguments, command, insert_text, open_document, wire_range
from .features import Feature, code_action
from .progress import WorkDone, cancellable
from .server import GalacticaServer, OpenDocument, Superseded
from .window import window_at

log = logging.getLogger(__name__)

EXPLAIN = "galactica.explainFormula"
ACTIONS = (("explain", "Explain formula"), ("work", "Explain step by step"),
           ("sympy", "Translate formula to Python (SymPy)"))
MODES = tuple(mode for mode, _ in ACTIONS)


@arguments
class ExplainArguments:
    """``galactica.explainFormula``: the formula at (or selected by) ``range``; ``insert``: write the answer."""

    uri: str
    range: types.Range
    mode: str = attrs.field(default="explain", validator=one_of(MODES))
    insert: bool = True


@dataclass(frozen=True)
class Explained:
    generation: Generation
    model: str  # the name of the model that wrote it (taken on the worker, with the answer)


class ExplanationCache:
    """Recent explanations by (model location, mode, formula), so hovering again answers at once."""

    def __init__(self, size: int = 256):
        self.size = size
        self.entries: OrderedDict[tuple, Explained] = OrderedDict()

    def get(self, key: tuple) -> Explained | None:
        if key in self.entries:
            self.entries.move_to_end(key)
        return self.entries.get(key)

    def put(self, key: tuple, value: Explained) -> None:
        self.entries[key] = value
        self.entries.move_to_end(key)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)


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
                      cancelled_by: asyncio.Future | None = None) -> Explained:
    """Ask the model (or the cache); raises ModelNotReady, Superseded or Cancelled.

    The model's name and location are read on the worker with the answer, never after an await:
    a reload queued meanwhile changes what ``ls.engine.loaded`` says.
    """
    cache = ls.state(ExplanationCache)
    loaded = ls.engine.loaded
    if loaded is not None and (cached := cache.get((loaded.source.location, mode, latex))) is not None:
        return cached
    s = ls.settings

    def task(g, cancelled) -> tuple[str, Explained]:
        gen = g.explain(latex, mode, s.explain_max_tokens, cancelled, time_limit=s.time_limit,
                        budget=s.context_tokens)
        return g.loaded.source.location, Explained(gen, g.loaded.source.name)

    work = ls.model(task, Priority.BACKGROUND, label, supersede=(doc.uri, label))
    location, result = await cancellable(work, cancelled_by)
    if result.generation.finish_reason in ("eos", "stop"):
        cache.put((location, mode, latex), result)  # a cut-short answer is not kept
    return result


def hover_markdown(latex: str, gen: Generation, model: str) -> str:
    return (
        f"**Galactica** on `{latex}`:\n\n{gen.text}\n\n---\n"
        f"*{model}, {gen.confidence.token_probability:.0%} sure per word. Written by a language model: check it.*"
    )


def code_actions(ls: GalacticaServer, doc: OpenDocument, start: int, end: int,
                 params: types.CodeActionParams) -> list[types.CodeAction]:
    """The formula actions, on a math span or a selection."""
    if formula_at(doc, start, end) is None:
        return []
    where = {"uri": doc.uri, "range": wire_range(doc.range(start, end, ls.encoding))}
    return [code_action(title, EXPLAIN, {**where, "mode": mode}) for mode, title in ACTIONS]


def register(server: GalacticaServer) -> None:
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
        where = doc.range(window.to_document(span.start), window.to_document(span.end), ls.encoding)
        try:
            explained = await explanation(ls, doc, span.latex, "explain", "hover")
        except ModelNotReady:
            ls.not_ready("hover")
            return None
        except Superseded:
            return None
        if not explained.generation.text:
            return None
        return types.Hover(
            contents=types.MarkupContent(kind=types.MarkupKind.Markdown,
                                         value=hover_markdown(span.latex, explained.generation, explained.model)),
            range=where,
        )

    @command(server, EXPLAIN)
    async def explain_command(ls: GalacticaServer, a: ExplainArguments):
        """Explain the formula at a range and insert the answer; returns what was written."""
        doc = open_document(ls, a.uri)
        start = doc.offset(a.range.start, ls.encoding)
        end = doc.offset(a.range.end, ls.encoding)
        found = formula_at(doc, start, end)
        if found is None:
            raise BadArguments("no formula there: put the cursor in a math span or select one")
        latex, span_end, in_docstring = found
        async with WorkDone(ls, f"Galactica: {dict(ACTIONS)[a.mode]}", cancellable=True) as bar:
            gen = (await explanation(ls, doc, latex, a.mode, f"{a.mode} command", bar.cancelled_by)).generation
        result = {"latex": latex, "mode": a.mode, "text": gen.text,
                  "confidence": round(gen.confidence.token_probability, 4), "finishReason": gen.finish_reason,
                  "inserted": False}
        if a.insert and gen.text:
            doc = open_document(ls, a.uri)  # the text may have changed while the model worked
            edit = insertion_for(doc.text, min(span_end, len(doc.text)), doc.language, a.mode, gen.text, in_docstring)
            result["inserted"] = await insert_text(ls, doc, edit.offset, edit.text, f"Galactica: {a.mode}")
        return result


FEATURE = Feature("explain", register=register, code_actions=code_actions)
