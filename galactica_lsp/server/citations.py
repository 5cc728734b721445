"""Citation suggestions in the completion menu and for the "suggest citations" command.

LSP methods: ``textDocument/completion`` at a citation trigger (``[START_REF]``,
``\\cite{``-like commands, pandoc ``[@``, MyST ``{cite}``; the items come from
here, the method is ``completion``'s), this feature's part of
``textDocument/codeAction`` ("Suggest citations here", in prose and only when
asked; its command is ``galactica.pickCitation``), the command
``galactica.suggestCitations`` (arguments :class:`SuggestArguments`; the
suggestions for a picker in the editor, each with its key, whether it is in
the library, and the server's edit that cites it there), the command
``galactica.insertCitation`` (arguments :class:`InsertArguments`: the pick
cited through ``workspace/applyEdit`` by the one rule of
:mod:`galactica_lsp.bibliography.placement`; editors hold no insertion logic)
and ``galactica.pickCitation`` ({uri, position}: for clients without their own
picker, the suggestions as ``window/showMessageRequest`` actions, the chosen one
inserted; VS Code and Neovim run their own picker for it instead).
Galactica proposes "Title, First author" by diverse beam search; each is matched against the document's bibliography
(``server.bibliography``). Every item shows whether it is in the user's
library and how sure the model was; items below the confidence threshold say
that the paper is likely made up; ("likely made up" is never said of an entry of the user's library); items in the library come first, then by
confidence. At ``[START_REF]`` the Galactica form is inserted (only there);
at cite commands, pandoc ``@`` and MyST/rST roles the library's key, or for a
paper not in the library a key made from the suggestion (unused in the
library), which the "Add BibTeX entry" code action can then give an entry. A
key already in the citation being typed is not offered again. After
Galactica's suggestions the menu lists the user's own library entries
(``library_menu``), also when the model has nothing. The model is asked once
per citation (:func:`shared_suggestions`): while the user types a key into the
open menu the answer never waits for it. A key of the library cited with
``galactica.insertCitation`` on a key made up here takes that key's place.
With ``galactica.verify`` on, each item not in the library also says what the public
records say of it, the command's suggestions carry ``verification`` and the
message-request picker shows it (``verification``: the check runs in the
background, the menu never waits for it).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from lsprotocol import types

from ..analysis.context import prompt_before
from ..analysis.triggers import CitationTrigger, citation_trigger_at
from ..bibliography.keys import cited_keys
from ..bibliography.match import LibraryMatch
from ..engine.galactica import END_REF, START_REF, Reference
from ..engine.types import ModelNotReady, Priority, Suggestion
from .arguments import arguments
from .bibliography import (DocumentLibrary, citation_text_edit, libraries, library_for, made_up_key, menu_place,
                           remember)
from .commands import BadArguments, CommandFailed, apply_edit, command, open_at, wire_range
from .features import Feature, prose_action
from .library_menu import library_items
from .positions import after
from .server import GalacticaServer, OpenDocument, Superseded
from .verification import add_statuses, annotate, picker_note
from .window import Window

log = logging.getLogger(__name__)

SUGGEST_CITATIONS = "galactica.suggestCitations"
INSERT_CITATION = "galactica.insertCitation"
PICK_CITATION = "galactica.pickCitation"


@arguments
class SuggestArguments:
    """``galactica.suggestCitations``: references for the prose before ``position``."""

    uri: str
    position: types.Position


@arguments
class InsertArguments:
    """``galactica.insertCitation``: cite at ``position`` the ``index``-th suggestion of the last
    ``galactica.suggestCitations`` for this document, or ``key``, or the paper ``title`` (``author``)."""

    uri: str
    position: types.Position
    index: int | None = None
    key: str | None = None
    title: str | None = None
    author: str | None = None

    def __attrs_post_init__(self) -> None:
        if (self.index is not None) + (self.key is not None) + (self.title is not None) != 1:
            raise ValueError("give one of `index`, `key` or `title`")


@dataclass
class Offered:
    """This feature's state: the suggestions ``galactica.suggestCitations`` last gave, per document."""

    by_uri: dict[str, list[tuple[Suggestion, LibraryMatch | None, str]]] = field(default_factory=dict)


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
        "likelyMadeUp": p < threshold and match is None,
        "label": confidence_label(p, threshold, match is not None),
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


async def described(ls: GalacticaServer, doc: OpenDocument, offset: int, suggestions: list[Suggestion]) -> list[dict]:
    """The command's suggestions: matched to the library, in the menu's order, each with the key it cites and
    the edit that cites it at ``offset`` (``{range, newText}``; null where it is cited there already or no
    citation belongs). Kept for ``galactica.insertCitation``'s ``index``."""
    library = await library_or_none(ls, doc)
    offered = []
    out = []
    for s, match in ranked(suggestions, library, ls.settings.bib_match_threshold):
        key = match.key if match else made_up_key(library, s.reference)
        offered.append((s, match, key))
        try:
            edit = citation_text_edit(ls, doc, offset, key, s.text)
        except BadArguments:
            edit = None
        out.append({**describe(s, ls.settings.citation_threshold, match), "key": key, "inLibrary": match is not None,
                    "edit": None if edit is None else {"range": wire_range(edit.range), "newText": edit.new_text}})
    ls.state(Offered).by_uri[doc.uri] = offered
    return out


async def insert_citation(ls: GalacticaServer, a: InsertArguments) -> dict:
    """Cite the chosen paper at the position through workspace/applyEdit: ``{applied, key, inLibrary, message, end}`` (``end``: the position just past the citation)."""
    doc, offset = open_at(ls, a.uri, a.position)
    suggestion = None
    library = await library_or_none(ls, doc)
    if a.index is not None:
        offered = ls.state(Offered).by_uri.get(doc.uri, [])
        if a.index >= len(offered):
            raise BadArguments(f"`index` {a.index}: the last {SUGGEST_CITATIONS} for this document gave "
                               f"{len(offered)} suggestion(s)")
        suggestion, match, key = offered[a.index]
        in_library, reference = match is not None, suggestion.text
    else:
        if a.key is not None:
            key, reference = a.key.strip(), None
            in_library = library is not None and library.index.has_key(key)
        else:
            reference = f"{a.title.strip()}, {a.author.strip()}" if a.author else a.title.strip()
            match = library.index.match(a.title, a.author, ls.settings.bib_match_threshold) if library else None
            key = match.key if match else made_up_key(library, Reference(reference))
            in_library = match is not None
    # A key of the library cited on a key made up for a paper not in it takes that key's place.
    replacing = made_up_keys(ls, doc.uri, library) if in_library else ()
    edit = citation_text_edit(ls, doc, offset, key, reference, replacing)
    if edit is None:
        return {"applied": False, "key": key, "inLibrary": in_library, "message": f"`{key}` is cited here already", "end": None}
    applied = await apply_edit(ls, types.WorkspaceEdit(changes={doc.uri: [edit]}), f"Galactica: cite {key}")
    if not applied:
        raise CommandFailed("the editor did not apply the edit: the document is unchanged")
    if suggestion is not None and not in_library:
        libraries(ls).made_up[(doc.uri, key)] = suggestion  # for the quick fix "Add BibTeX entry"
    if replacing:
        forget_replaced(ls, doc, edit, replacing)
    end = after(edit.range.start, edit.new_text, ls.encoding) if "\n" not in edit.new_text else None
    return {"applied": True, "key": key, "inLibrary": in_library, "message": "",
            "end": None if end is None else {"line": end.line, "character": end.character}}


def made_up_keys(ls: GalacticaServer, uri: str, library: DocumentLibrary | None) -> set[str]:
    """The keys the server made up in this document for papers not in the library (and still not in it)."""
    return {key for (at, key) in libraries(ls).made_up
            if at == uri and not (library is not None and library.index.has_key(key))}


def forget_replaced(ls: GalacticaServer, doc: OpenDocument, edit: types.TextEdit, replacing: set[str]) -> None:
    """Made-up keys the edit took out of the document are no longer offered an "Add BibTeX entry" quick fix."""
    start, end = doc.offset(edit.range.start, ls.encoding), doc.offset(edit.range.end, ls.encoding)
    text = doc.text[:start] + edit.new_text + doc.text[end:]
    still = {cited.key for cited in cited_keys(text, doc.language)}
    made_up = libraries(ls).made_up
    for key in replacing - still:
        made_up.pop((doc.uri, key), None)


def confidence_label(probability: float, threshold: float, in_library: bool = False) -> str:
    """How sure the model was; "likely made up" only for a paper that is not in the user's library."""
    sure = f"{probability:.0%} sure"
    return f"{sure} · likely made up" if probability < threshold and not in_library else sure


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


@dataclass
class Asked:
    """This feature's state: per document, what citations were last asked for and the task answering it."""

    by_uri: dict[str, tuple[tuple, asyncio.Task]] = field(default_factory=dict)


async def shared_suggestions(ls: GalacticaServer, doc: OpenDocument, prompt: str,
                             wait: bool = True, timeout: float | None = None) -> list[Suggestion] | None:
    """:func:`suggest`, asked once per citation: a request with the prompt, settings and model of the last one
    for the document shares its answer (kept while they stay the same), so typing a key into the citation does not
    run the model again. With ``wait`` False, None at once while the answer is still being computed (it is kept
    for the next request), and with ``timeout``, None after that many seconds; an answer of None (no model,
    superseded) or an error is not kept."""
    s = ls.settings
    wanted = (prompt, s.citation_suggestions, s.diversity, s.time_limit, s.context_tokens, ls.serving_key)
    state = ls.state(Asked)
    held = state.by_uri.get(doc.uri)
    if held is None or held[0] != wanted or (held[1].done() and not _answered(held[1])):
        task = asyncio.ensure_future(suggest(ls, doc, prompt))
        state.by_uri[doc.uri] = (wanted, task)
    else:
        task = held[1]
    if not wait and not task.done():
        return None
    if timeout is not None and not task.done():
        done, _ = await asyncio.wait({task}, timeout=timeout)  # the task runs on when the time is up
        if not done:
            return None
    return await asyncio.shield(task)


def _answered(task: asyncio.Task) -> bool:
    return not task.cancelled() and task.exception() is None and task.result() is not None


async def citation_items(
    ls: GalacticaServer, doc: OpenDocument, window: Window, trigger: CitationTrigger, filtering: bool = False
) -> list[types.CompletionItem]:
    """The menu at a citation: Galactica's suggestions, then the user's own library entries (``library_menu``).

    ``filtering``: the editor asks again as the user types into a menu it shows (incomplete); then the answer never
    waits on the model once a key is being typed: Galactica's suggestions are in it when they are ready. Where the
    user's library has entries for the place, the first answer waits at most ``citationMenuWait`` seconds for the
    model (a large model on a CPU takes tens of seconds) and opens with the library alone when they are up; the
    model's answer is kept and joins the menu at the next request (a key typed, the menu opened again).
    """
    wait = not (filtering and trigger.prefix and trigger.kind != "galactica")
    prompt = citation_prompt(ls, doc, window, trigger)
    suggestions = await shared_suggestions(ls, doc, prompt, wait=False)  # asks the model; never waits
    library = await library_or_none(ls, doc)
    own = await library_items(ls, doc, window, library)  # from the bibliography alone, whatever the model gave
    if suggestions is None and wait:
        bound = ls.settings.citation_menu_wait if own else None
        suggestions = await shared_suggestions(ls, doc, prompt, timeout=bound)
    if not suggestions:
        return own
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
            key = new_text = made_up_key(library, suggestion.reference)
            note = (f"Not in your bibliography: `{new_text}` is a key made from the suggestion; the code action"
                    " \"Add BibTeX entry\" writes an entry for it (the record's own when `galactica.verify` found it,"
                    " else an unverified stub).")
        shown.append((suggestion, match, key))
        warning = "**Likely made up.** " if p < threshold and match is None else ""
        where = f"in your library: {match.key}" if match else "not in your library"
        items.append(annotate(
            ls,
            types.CompletionItem(
                label=suggestion.text,
                kind=types.CompletionItemKind.Reference,
                detail=f"{where} · {confidence_label(p, threshold, match is not None)}",
                documentation=types.MarkupContent(
                    kind=types.MarkupKind.Markdown,
                    value=(
                        f"{warning}Galactica suggests *{suggestion.reference.title}*"
                        f" ({suggestion.reference.author or 'author unknown'}), {p:.0%} sure.\n\n"
                        f"{note} Galactica cites from memory and can invent papers: check before citing."
                    ),
                ),
                sort_text=f"{rank:03d}",
                # At [START_REF], prefixed with what was typed, so that the client's filter never hides a
                # suggestion; at a key, the key, author and title, as the library's items: typing filters both.
                filter_text=(trigger.prefix + suggestion.text if trigger.kind == "galactica" else
                             " ".join(part for part in (new_text, suggestion.reference.author,
                                                        suggestion.reference.title) if part)),
                text_edit=types.TextEdit(range=edit_range, new_text=new_text),
            ),
            suggestion,
            match is not None,
        ))
    remember(ls, doc.uri, shown, menu_place(window.text, window.cursor, doc.language, window.start))
    return items + own


def code_actions(ls: GalacticaServer, doc: OpenDocument, start: int, end: int,
                 params: types.CodeActionParams) -> list[types.CodeAction]:
    return prose_action(ls, doc, end, params, "Suggest citations here", PICK_CITATION)


def register(server: GalacticaServer) -> None:
    @command(server, SUGGEST_CITATIONS)
    async def suggest_command(ls: GalacticaServer, a: SuggestArguments):
        """Suggestions for the prose before a position, for a picker in the editor."""
        doc, offset = open_at(ls, a.uri, a.position)
        trigger = citation_trigger_at(doc.text, offset, doc.language)
        end = trigger.context_end if trigger is not None and trigger.kind != "galactica" else offset
        prompt = prompt_before(doc.text, end, doc.language, ls.settings.context_tokens).text  # as the menu's
        suggestions = await shared_suggestions(ls, doc, prompt)  # the menu's own answer when it asked already
        if suggestions is None:
            return {"suggestions": [], "message": ls.engine.not_ready_reason() if ls.engine.state != "ready" else ""}
        shown = await described(ls, doc, offset, suggestions)
        await add_statuses(ls, shown)  # each with its check, as far as it got in a moment
        return {"suggestions": shown, "message": ""}

    @command(server, INSERT_CITATION)
    async def insert_command(ls: GalacticaServer, a: InsertArguments):
        """Cite a chosen suggestion (see :class:`InsertArguments`) with the server's edit."""
        return await insert_citation(ls, a)

    @command(server, PICK_CITATION)
    async def pick_command(ls: GalacticaServer, a: SuggestArguments):
        """The code action's command for clients without their own picker: the suggestions as a
        window/showMessageRequest, then the chosen one cited. Editors with a picker run it themselves."""
        result = await suggest_command(ls, a)
        shown = result["suggestions"]
        if not shown:
            raise CommandFailed(result["message"] or "Galactica has no suggestion here")
        titles = [f"{i + 1}. {s['text']} ("
                  f"{'in your library: ' + s['key'] if s['inLibrary'] else s['label'] + picker_note(s)})"
                  for i, s in enumerate(shown)]
        chosen = await ls.window_show_message_request_async(types.ShowMessageRequestParams(
            type=types.MessageType.Info, message="Galactica: cite which paper? (Galactica cites from memory:"
            " check before citing)", actions=[types.MessageActionItem(title=t) for t in titles]))
        if chosen is None or chosen.title not in titles:
            return {"applied": False, "key": None, "inLibrary": False, "message": "nothing chosen"}
        return await insert_citation(ls, InsertArguments(uri=a.uri, position=a.position, index=titles.index(chosen.title)))


def closed(ls: GalacticaServer, uri: str) -> None:
    ls.state(Asked).by_uri.pop(uri, None)


FEATURE = Feature("citations", register=register, closed=closed, code_actions=code_actions)
