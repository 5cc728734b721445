"""Citation suggestions in the completion menu and for the "suggest citations" command.

LSP methods: ``textDocument/completion`` at a citation trigger (``[START_REF]``,
``\\cite{``-like commands, pandoc ``[@``, MyST ``{cite}``; the items come from
here, the method is ``completion``'s), this feature's part of
``textDocument/codeAction`` ("Suggest citations here", in prose and only when
asked), and the command ``galactica.suggestCitations`` (arguments
:class:`SuggestArguments`; the suggestions for a picker in the editor).
Galactica proposes "Title, First author" by diverse beam search; each is matched against the document's bibliography
(``server.bibliography``). Every item shows whether it is in the user's
library and how sure the model was; items below the confidence threshold say
that the paper is likely made up; items in the library come first, then by
confidence. At ``[START_REF]`` the Galactica form is inserted (only there);
at cite commands, pandoc ``@`` and MyST/rST roles the library's key, or for a
paper not in the library a key made from the suggestion (unused in the
library), which the "Add BibTeX entry" code action can then give an entry. A
key already in the citation being typed is not offered again.
"""

from __future__ import annotations

import asyncio
import logging

from lsprotocol import types

from ..analysis.context import prompt_before
from ..analysis.triggers import CitationTrigger
from ..bibliography.match import LibraryMatch
from ..engine.galactica import END_REF, START_REF
from ..engine.types import ModelNotReady, Priority, Suggestion
from .arguments import arguments
from .bibliography import DocumentLibrary, library_for, made_up_key, remember
from .commands import command, open_at
from .features import Feature, prose_action
from .server import GalacticaServer, OpenDocument, Superseded
from .window import Window

log = logging.getLogger(__name__)

SUGGEST_CITATIONS = "galactica.suggestCitations"


@arguments
class SuggestArguments:
    """``galactica.suggestCitations``: references for the prose before ``position``."""

    uri: str
    position: types.Position


def describe(suggestion: Suggestion, threshold: float, match: LibraryMatch | None = None) -> dict:
    """The wire form of a suggestion (the command's result; the Neovim picker and VS Code quick pick show it).

    ``library`` is the matching entry of the user's bibliography ({key, file, similarity}), or null.
    """
    p = suggestion.confidence.probability
    return {
        "text": suggestion.text,
        "title": suggestion.reference.title,
        "author": suggestion.reference.author,
        "confidence": round(p, 4),
        "minTokenProbability": round(2.718281828459045 ** suggestion.confidence.minimum, 4),
        "likelyMadeUp": p < threshold,
        "label": confidence_label(p, threshold),
        "library": None if match is None else {
            "key": match.key, "file": str(match.path) if match.path else None, "similarity": match.score,
        },
    }


def ranked(
    suggestions: list[Suggestion], library: DocumentLibrary | None, threshold: float
) -> list[tuple[Suggestion, LibraryMatch | None]]:
    """Suggestions with their library entries: those in the library first, then by confidence.

    Two suggestions naming the same entry are one item (the more probable).
    """
    matched = [(s, library.match(s, threshold) if library else None) for s in suggestions]
    matched.sort(key=lambda pair: (pair[1] is None, -pair[0].confidence.probability))
    seen: set[str] = set()
    out = []
    for suggestion, match in matched:
        if match is not None:
            if match.key.casefold() in seen:
                continue
            seen.add(match.key.casefold())
        out.append((suggestion, match))
    return out


async def library_or_none(ls: GalacticaServer, doc: OpenDocument) -> DocumentLibrary | None:
    """The document's bibliography; None (logged) when it cannot be read, so citations still work."""
    try:
        return await library_for(ls, doc)
    except Exception as exc:
        log.warning("bibliography for %s: %s", doc.uri, exc, exc_info=True)
        return None


async def described(ls: GalacticaServer, doc: OpenDocument, suggestions: list[Suggestion]) -> list[dict]:
    """The command's suggestions: matched to the library, in the menu's order."""
    library = await library_or_none(ls, doc)
    pairs = ranked(suggestions, library, ls.settings.bib_match_threshold)
    return [describe(s, ls.settings.citation_threshold, match) for s, match in pairs]


def confidence_label(probability: float, threshold: float) -> str:
    sure = f"{probability:.0%} sure"
    return f"{sure} · likely made up" if probability < threshold else sure


async def suggest(ls: GalacticaServer, doc: OpenDocument, prompt: str) -> list[Suggestion] | None:
    """Suggestions for a prompt, or None when the model is not ready or a newer request replaced this one."""
    s = ls.settings
    try:
        return await ls.model(
            lambda g, cancelled: g.cite(
                prompt, s.citation_suggestions, s.diversity, 48, cancelled, time_limit=s.time_limit,
                budget=s.context_tokens,
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
    suggestions, library = await asyncio.gather(
        suggest(ls, doc, citation_prompt(ls, doc, window, trigger)), library_or_none(ls, doc)
    )
    if not suggestions:
        return []
    start = window.to_document(trigger.replace_start)
    end = window.to_document(trigger.replace_end)
    edit_range = doc.range(start, end, ls.encoding)
    threshold = ls.settings.citation_threshold
    items, shown = [], []
    for rank, (suggestion, match) in enumerate(ranked(suggestions, library, ls.settings.bib_match_threshold)):
        p = suggestion.confidence.probability
        key = match.key if match else None
        if trigger.kind == "galactica":
            space = "" if doc.text[:start].endswith((" ", "\n")) else " "
            closing = "" if doc.text[end:].lstrip().startswith(END_REF) else END_REF
            new_text = f"{space}{suggestion.text}{closing}"
            note = f"Inserts the Galactica form {START_REF} … {END_REF}."
        elif match is not None:
            if match.key in trigger.existing_keys:
                continue  # already in this citation: never cited twice
            new_text = match.key
            note = f"In your library as `{match.key}` ({match.path.name if match.path else 'bibliography'})."
        else:
            key = new_text = made_up_key(library, suggestion)
            note = (f"Not in your bibliography: `{new_text}` is a key made from the suggestion; the code action"
                    " \"Add BibTeX entry\" writes an unverified stub for it.")
        shown.append((suggestion, match, key))
        warning = "**Likely made up.** " if p < threshold else ""
        where = f"in your library: {match.key}" if match else "not in your library"
        items.append(
            types.CompletionItem(
                label=suggestion.text,
                kind=types.CompletionItemKind.Reference,
                detail=f"{where} · {confidence_label(p, threshold)}",
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
    remember(ls, doc.uri, shown)
    return items


def code_actions(ls: GalacticaServer, doc: OpenDocument, start: int, end: int,
                 params: types.CodeActionParams) -> list[types.CodeAction]:
    return prose_action(ls, doc, end, params, "Suggest citations here", SUGGEST_CITATIONS)


def register(server: GalacticaServer) -> None:
    @command(server, SUGGEST_CITATIONS)
    async def suggest_command(ls: GalacticaServer, a: SuggestArguments):
        """Suggestions for the prose before a position, for a picker in the editor."""
        doc, offset = open_at(ls, a.uri, a.position)
        prompt = prompt_before(doc.text, offset, doc.language, ls.settings.context_tokens).text
        suggestions = await suggest(ls, doc, prompt)
        if suggestions is None:
            return {"suggestions": [], "message": ls.engine.not_ready_reason() if ls.engine.state != "ready" else ""}
        return {"suggestions": await described(ls, doc, suggestions), "message": ""}


FEATURE = Feature("citations", register=register, code_actions=code_actions)
