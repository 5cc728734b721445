"""Citation suggestions in the completion menu and for the "suggest citations" command.

LSP method: ``textDocument/completion`` at a citation trigger (``[START_REF]``,
``\\cite{``-like commands, pandoc ``[@``, MyST ``{cite}``), and the command
``galactica.suggestCitations``. Galactica proposes "Title, First author" by
diverse beam search; every item shows how sure the model was, and items below
the confidence threshold say that the paper is likely made up. At
``[START_REF]`` the Galactica form is inserted; at cite commands, until the
bibliography is matched, a key made from the suggestion is inserted and the
item says that it is not in the user's bibliography.
"""

from __future__ import annotations

import logging
import re
import unicodedata

from lsprotocol import types

from ..analysis.context import prompt_before
from ..analysis.triggers import CitationTrigger
from ..engine.galactica import END_REF, START_REF
from ..engine.service import ModelNotReady, Suggestion
from ..engine.worker import Priority
from .server import GalacticaServer, OpenDocument, Superseded
from .window import Window

log = logging.getLogger(__name__)


def made_up_key(suggestion: Suggestion) -> str:
    """``vaswani:attention`` from "Attention is All you Need, Vaswani" (ASCII, lower case)."""

    def ascii_word(text: str) -> str:
        folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
        return re.sub(r"[^a-z0-9]", "", folded.lower())

    words = [ascii_word(w) for w in suggestion.reference.title.split()]
    title_word = next((w for w in words if len(w) > 3), next((w for w in words if w), "untitled"))
    author = ascii_word(suggestion.reference.author or "") or "anon"
    return f"{author}:{title_word}"


def describe(suggestion: Suggestion, threshold: float) -> dict:
    """The wire form of a suggestion (the command's result; the Neovim picker and VS Code quick pick show it)."""
    p = suggestion.confidence.probability
    return {
        "text": suggestion.text,
        "title": suggestion.reference.title,
        "author": suggestion.reference.author,
        "confidence": round(p, 4),
        "minTokenProbability": round(2.718281828459045 ** suggestion.confidence.minimum, 4),
        "likelyMadeUp": p < threshold,
        "label": confidence_label(p, threshold),
    }


def confidence_label(probability: float, threshold: float) -> str:
    sure = f"{probability:.0%} sure"
    return f"{sure} · likely made up" if probability < threshold else sure


async def suggest(ls: GalacticaServer, doc: OpenDocument, prompt: str) -> list[Suggestion] | None:
    """Suggestions for a prompt, or None when the model is not ready or a newer request replaced this one."""
    s = ls.settings
    try:
        return await ls.model(
            lambda g, cancelled: g.cite(
                prompt, s.citation_suggestions, s.diversity, 48, cancelled, time_limit=s.time_limit
            ),
            Priority.INTERACTIVE,
            "citation",
            supersede=(doc.uri, "citation"),
        )
    except ModelNotReady:
        ls.not_ready("citations")
    except Superseded:
        pass
    return None


def citation_prompt(ls: GalacticaServer, doc: OpenDocument, window: Window, trigger: CitationTrigger) -> str:
    """The prose before the citation; at ``[START_REF]`` everything up to the cursor (a begun title included)."""
    end = window.to_document(window.cursor if trigger.kind == "galactica" else trigger.context_end)
    return prompt_before(doc.text, end, doc.language, ls.settings.context_tokens).text


async def citation_items(
    ls: GalacticaServer, doc: OpenDocument, window: Window, trigger: CitationTrigger
) -> list[types.CompletionItem]:
    suggestions = await suggest(ls, doc, citation_prompt(ls, doc, window, trigger))
    if not suggestions:
        return []
    start = window.to_document(trigger.replace_start)
    end = window.to_document(trigger.replace_end)
    edit_range = doc.range(start, end, ls.encoding)
    threshold = ls.settings.citation_threshold
    items = []
    for rank, suggestion in enumerate(suggestions):
        p = suggestion.confidence.probability
        if trigger.kind == "galactica":
            space = "" if doc.text[:start].endswith((" ", "\n")) else " "
            closing = "" if doc.text[end:].lstrip().startswith(END_REF) else END_REF
            new_text = f"{space}{suggestion.text}{closing}"
            note = f"Inserts the Galactica form {START_REF} … {END_REF}."
        else:
            new_text = made_up_key(suggestion)
            note = f"Not in your bibliography: `{new_text}` is a key made from the suggestion."
        warning = "**Likely made up.** " if p < threshold else ""
        items.append(
            types.CompletionItem(
                label=suggestion.text,
                kind=types.CompletionItemKind.Reference,
                detail=confidence_label(p, threshold),
                documentation=types.MarkupContent(
                    kind=types.MarkupKind.Markdown,
                    value=(
                        f"{warning}Galactica suggests *{suggestion.reference.title}*"
                        f" ({suggestion.reference.author or 'author unknown'}), {p:.0%} sure.\n\n"
                        f"{note} Galactica cites from memory and can invent papers: check before citing."
                    ),
                ),
                sort_text=f"{rank:03d}",
                # Prefixed with what was typed, so that the client's filter never hides a suggestion.
                filter_text=trigger.prefix + (suggestion.text if trigger.kind == "galactica" else new_text),
                text_edit=types.TextEdit(range=edit_range, new_text=new_text),
            )
        )
    return items
