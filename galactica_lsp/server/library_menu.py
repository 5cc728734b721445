r"""The user's own library in the citation menu, after Galactica's suggestions.

Part of ``textDocument/completion`` at ``\cite{``, pandoc ``[@``, MyST ``{cite}`` and rST ``:cite:``
(``citations`` builds the menu and adds these items to it; at ``[START_REF]`` a title goes, not a key, so
none). Every entry of the document's bibliographies is listed, as texlab and LaTeX Workshop list them, except a
key the citation holds already (citing it again is what the one rule forbids). Each item:

- ``label``: the key; ``labelDetails``: first author and year, then the title (for clients that show them);
  ``detail``: which bibliography, first author and year; ``documentation``: the entry (title, authors, year,
  venue, DOI, file and line);
- ``filterText``: key, first author, year and title, so the editor filters by any of them;
- ``sortText``: after every Galactica suggestion (those sort as ``000``…), in the library's order of relevance
  for what was typed (:mod:`~galactica_lsp.bibliography.listing`);
- its edit from the one citation rule (:func:`~galactica_lsp.bibliography.placement.open_list_at`): what was
  typed of the key replaced by the key, the list's separator added when more keys follow.

At most :data:`LIMIT` items an answer: the citation menu is always incomplete (``isIncomplete``), so the editor
asks again as the user types, and the library's own search finds the entries the longer text names; a
10,000-entry library stays fast (``benchmarks/bib_match.py`` measures it). The items come from the
bibliography alone: they are there when no model is loaded or it suggests nothing, and never wait for it.
The search runs in a thread, never on the event loop; each library's search index is built once.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field

from lsprotocol import types
from pygls.capabilities import get_capability

from ..bibliography.listing import Listed, Listing
from ..bibliography.match import MatchIndex
from ..bibliography.placement import OpenList, open_list_at
from .bibliography import DocumentLibrary
from .server import GalacticaServer, OpenDocument
from .window import Window

LIMIT = 100
SORT_AFTER_GALACTICA = "1"  # Galactica's items sort as "000", "001", …; the library's as "10000", "10001", …
AUTHORS_SHOWN = 3
_MARKDOWN_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>#|"})


@dataclass
class Listings:
    """This part's state: each library's search index, built once, dropped with the library."""

    by_index: weakref.WeakKeyDictionary[MatchIndex, Listing] = field(default_factory=weakref.WeakKeyDictionary)


async def library_items(ls: GalacticaServer, doc: OpenDocument, window: Window,
                        library: DocumentLibrary | None) -> list[types.CompletionItem]:
    """The library's entries for the citation list at the cursor (none where no key goes, or no library)."""
    place = open_list_at(window.text, window.cursor, doc.language)
    if place is None or library is None or not len(library.index):
        return []
    listing = await _listing(ls, library.index)
    found, _ = await asyncio.to_thread(listing.find, place.typed, LIMIT, place.cited)
    edit_range = doc.range(window.to_document(place.start), window.to_document(place.end), ls.encoding)
    details = get_capability(ls.client_capabilities, "text_document.completion.completion_item.label_details_support",
                             False)
    return [library_item(listed, rank, place, edit_range, details) for rank, listed in enumerate(found)]


async def _listing(ls: GalacticaServer, index: MatchIndex) -> Listing:
    listings = ls.state(Listings).by_index
    listing = listings.get(index)
    if listing is None:
        listing = listings[index] = await asyncio.to_thread(Listing, index)
    return listing


def library_item(listed: Listed, rank: int, place: OpenList, edit_range: types.Range,
                 label_details: bool = True) -> types.CompletionItem:
    """One entry as a menu item that cites its key at ``place`` (see the module)."""
    entry = listed.entry
    who = ", ".join(part for part in (entry.first_author, entry.year) if part)
    where = listed.path.name if listed.path is not None else "bibliography"
    placed = place.placement(entry.key)
    return types.CompletionItem(
        label=entry.key,
        label_details=types.CompletionItemLabelDetails(detail=f" {who}" if who else None,
                                                       description=_shortened(entry.title, 60) or None)
        if label_details else None,
        kind=types.CompletionItemKind.Reference,
        detail=f"your library ({where})" + (f" · {who}" if who else ""),
        documentation=types.MarkupContent(kind=types.MarkupKind.Markdown, value=entry_markdown(listed)),
        sort_text=f"{SORT_AFTER_GALACTICA}{rank:04d}",
        filter_text=listed.filter_text,
        text_edit=types.TextEdit(range=edit_range, new_text=placed.new_text if placed else entry.key),
    )


def entry_markdown(listed: Listed) -> str:
    """``**Title**`` / authors, year. *Venue*. DOI / `key` in file, line N."""
    entry = listed.entry
    names = [p.surname for p in entry.authors[:AUTHORS_SHOWN]]
    authors = ", ".join(names) + (" et al." if len(entry.authors) > AUTHORS_SHOWN else "")
    facts = ", ".join(part for part in (authors, entry.year) if part)
    lines = [f"**{_md(entry.title)}**" if entry.title else "*(no title)*"]
    more = [f"{_md(facts)}." if facts else "", f"*{_md(entry.container)}*." if entry.container else "",
            f"DOI {_md(entry.doi)}" if entry.doi else ""]
    if any(more):
        lines.append(" ".join(part for part in more if part))
    where = f"{listed.path.name}, line {entry.line + 1}" if listed.path is not None else "your bibliography"
    lines.append(f"`{entry.key}` in {where}.")
    return "\n\n".join(lines)


def _md(text: str) -> str:
    return text.translate(_MARKDOWN_SPECIAL)


def _shortened(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"
