"""Ghost text and the completion menu.

LSP methods: ``textDocument/inlineCompletion`` (LSP 3.18, ghost text) and
``textDocument/completion`` (the menu: continuations for clients without
inline completion, and citations everywhere, see ``citations``; their
``completionItem/resolve`` is ``verification``'s). Both answer
``isIncomplete``/empty quickly when the gate says no, when the model is not
ready, or when a newer request for the same document replaced this one.

How many: ghost text the editor asks for as the user types (trigger kind
Automatic, and the menu as it opens while typing) is one greedy suggestion,
the fastest there is; when the user asks (Invoked: a key, VS Code's
next/previous, Neovim's ``select()``; the menu invoked by hand) it is up to
``suggestions`` (beams at temperature 0, else samples).

Typing ahead: the last suggestions shown for a document are remembered; when
the user has since typed the start of one of them, the rest of it is the
answer, at once, without the model (an invoked request is not answered from a
single automatic suggestion).
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

from lsprotocol import types
from pygls.capabilities import get_capability

from ..analysis.context import looks_binary, prompt_before
from ..analysis.generated import fit_to_insert
from ..analysis.gate import completion_gate
from ..analysis.triggers import START_REF, citation_trigger_at
from ..engine.types import DecodeSettings, ModelNotReady, Priority
from .bibliography import reference_citer
from .citations import citation_items
from .features import Feature
from .server import GalacticaServer, OpenDocument, Superseded
from .window import window_at

log = logging.getLogger(__name__)
_WORD_BEFORE = re.compile(r"[\w\\]+$")
TRIGGER_CHARACTERS = ["{", "@", ",", "]", "`", " "]


def suggestion_count(ls: GalacticaServer, invoked: bool) -> int:
    """One greedy suggestion as the user types; ``suggestions`` when the user asked for them."""
    return ls.settings.suggestions if invoked else 1


def decode_settings(ls: GalacticaServer, mode: str, count: int) -> DecodeSettings:
    """One line, or up to a blank line; several suggestions by beams (temperature 0) or by sampling."""
    s = ls.settings
    strategy = "greedy" if count == 1 else ("sample" if s.temperature > 0 else "beam")
    return DecodeSettings(
        strategy=strategy,
        max_new_tokens=s.max_new_tokens,
        num_return=count,
        num_beams=count if strategy == "beam" else 1,
        temperature=s.temperature or 1.0,
        top_p=s.top_p,
        top_k=s.top_k,
        stop_strings=("\n",) if mode == "line" else ("\n\n",),
        time_limit=s.time_limit,
    )


@dataclass(frozen=True)
class Shown:
    """Suggestions answered for a document: its text then, and where they were to be inserted."""

    text: str
    offset: int
    suggestions: tuple[str, ...]
    asked: int = 1  # how many the request asked for


def typed_ahead(shown: Shown | None, text: str, offset: int) -> list[str]:
    """The rest of each shown suggestion whose start the user has typed since; empty when the text went elsewhere."""
    if shown is None or offset <= shown.offset:
        return []
    typed_len = offset - shown.offset
    # The text around the insertion point must be what it was: same before, same after.
    if len(text) != len(shown.text) + typed_len or not text.endswith(shown.text[shown.offset :]):
        return []
    if not text.startswith(shown.text[: shown.offset]):
        return []
    typed = text[shown.offset : offset]
    return [s[typed_len:] for s in shown.suggestions if s.startswith(typed) and len(s) > typed_len]


async def continuations(ls: GalacticaServer, doc: OpenDocument, offset: int, feature: str, count: int = 1) -> list[str]:
    """Up to ``count`` continuations at ``offset``; empty when the gate says not here or the model is busy elsewhere."""
    if not ls.language_enabled(doc.language):
        return []
    started = time.monotonic()
    shown = ls.shown.get(doc.uri)
    rest = typed_ahead(shown, doc.text, offset) if shown is not None and shown.asked >= count else []
    if rest:
        ls.latencies[f"{feature} completion (typed ahead)"] = round((time.monotonic() - started) * 1000, 3)
        return rest
    window = window_at(doc.text, offset)
    if looks_binary(window.text):
        log.info("%s looks binary: no completion", doc.uri)
        return []
    if citation_trigger_at(window.text, window.cursor, doc.language):
        return []  # citations come through the menu
    gate = completion_gate(window.text, window.cursor, doc.language, in_comments=ls.settings.complete_in_comments)
    if gate.mode == "none":
        log.debug("no completion at %s:%d: %s", doc.uri, offset, gate.reason)
        return []
    prompt = prompt_before(doc.text, offset, doc.language, ls.settings.context_tokens)
    settings = decode_settings(ls, gate.mode, count)
    try:
        generations = await ls.model(
            lambda g, cancelled: g.complete(
                prompt.text, settings, cancelled, new_document=prompt.starts_document, key=doc.uri,
                budget=ls.settings.context_tokens,
            ),
            Priority.INTERACTIVE,
            f"{feature} completion",
            supersede=(doc.uri, "completion"),
        )
    except ModelNotReady:
        ls.not_ready("completion")
        return []
    except Superseded:
        return []
    texts: list[str] = []
    # Only a generation that wrote a reference needs the bibliography.
    citer = await reference_citer(ls, doc) if any(START_REF in g.text for g in generations) else _no_reference
    for gen in generations:
        fitted = fit_to_insert(gen.text, citer, cut=gen.finish_reason in ("length", "time"))
        text = fitted.rstrip() if gate.mode == "line" else fitted.rstrip("\n ")
        if text.strip() and text not in texts:
            texts.append(text)
    if texts:
        ls.shown[doc.uri] = Shown(doc.text, offset, tuple(texts), count)
    return texts


def _no_reference(text: str) -> None:
    return None


def register(server: GalacticaServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(ls: GalacticaServer, params: types.InlineCompletionParams):
        doc = ls.document(params.text_document.uri)
        if doc is None or not ls.settings.inline:
            return types.InlineCompletionList(items=[])
        offset = doc.offset(params.position, ls.encoding)
        position = doc.position(offset, ls.encoding)
        invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        texts = await continuations(ls, doc, offset, "inline", suggestion_count(ls, invoked))
        return types.InlineCompletionList(
            items=[types.InlineCompletionItem(insert_text=t, range=types.Range(position, position)) for t in texts]
        )

    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION,
        types.CompletionOptions(trigger_characters=TRIGGER_CHARACTERS, resolve_provider=True),  # see verification
    )
    async def completion(ls: GalacticaServer, params: types.CompletionParams):
        doc = ls.document(params.text_document.uri)
        if doc is None or not ls.language_enabled(doc.language):
            return types.CompletionList(is_incomplete=True, items=[])
        offset = doc.offset(params.position, ls.encoding)
        window = window_at(doc.text, offset)
        trigger = citation_trigger_at(window.text, window.cursor, doc.language)
        if trigger is not None:
            filtering = params.context is not None and (
                params.context.trigger_kind == types.CompletionTriggerKind.TriggerForIncompleteCompletions)
            items = await citation_items(ls, doc, window, trigger, filtering)
            return types.CompletionList(is_incomplete=True, items=items)
        inline = get_capability(ls.client_capabilities, "text_document.inline_completion", None) is not None
        if inline and ls.settings.inline:
            return types.CompletionList(is_incomplete=True, items=[])  # ghost text serves this client
        invoked = params.context is None or params.context.trigger_kind == types.CompletionTriggerKind.Invoked
        texts = await continuations(ls, doc, offset, "menu", suggestion_count(ls, invoked))
        return types.CompletionList(is_incomplete=True, items=menu_items(doc, offset, texts, ls.encoding))


def menu_items(doc: OpenDocument, offset: int, texts: list[str], encoding: str) -> list[types.CompletionItem]:
    """Menu entries that replace the word being typed, so the client's filter keeps them."""
    line_start = doc.text.rfind("\n", 0, offset) + 1
    word = _WORD_BEFORE.search(doc.text[line_start:offset])
    start = offset - len(word.group(0)) if word else offset
    typed = doc.text[start:offset]
    edit_range = doc.range(start, offset, encoding)
    items, labels = [], set()
    for rank, text in enumerate(texts):
        first_line = text.strip().splitlines()[0]
        label = (first_line[:60] + "…") if len(first_line) > 60 else first_line
        if label in labels:  # suggestions that differ later: keep them apart in the menu
            label = f"{label} ({rank + 1})"
        labels.add(label)
        items.append(
            types.CompletionItem(
                label=label,
                kind=types.CompletionItemKind.Text,
                detail="Galactica",
                documentation=types.MarkupContent(kind=types.MarkupKind.PlainText, value=text),
                sort_text=f"{rank:03d}",
                filter_text=typed + text,
                text_edit=types.TextEdit(range=edit_range, new_text=typed + text),
            )
        )
    return items



FEATURE = Feature("completion", register=register)
