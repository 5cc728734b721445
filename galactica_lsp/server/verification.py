"""Suggested references checked in the editor: the menu's line, ``completionItem/resolve``, real entries.

LSP methods: ``completionItem/resolve`` (a citation item gets its check's
result, waited for at most :data:`RESOLVE_WAIT_S`, else what is known:
*checking…*; other items come back as they are), and this feature's part of
the citation menu (:func:`annotate`), of ``galactica.suggestCitations`` and
``galactica.pickCitation`` (:func:`add_statuses`, :func:`picker_note`), of
``galactica.addBibEntry`` (:func:`real_entry`: the record's own BibTeX for a
suggestion that was found) and of its code action's title (:func:`action_tag`).

With ``galactica.verify`` naming sources, each suggestion that is not in the
user's library is checked (``galactica_lsp.verify``) in the background from the
moment the menu shows it: the menu never waits for the network, and the check
runs in this feature's own threads, never the event loop's. Only the
suggestion's title and its first author's surname are sent, never the
document. Each item then reads *found: DOI …, year, venue*, *not found in
Crossref, …* (not proof it is invented), or *not checked (why)*. Off (the
default) nothing is sent and the items say so.

Owns :class:`Verification`, this feature's state: the Verifier for the
current settings (made again when ``verify``, ``verifyEndpoints`` or
``verifyTimeout`` change), its threads, and the checks by suggestion (a
bounded number; one whose sources failed is run again after
:data:`RECHECK_S`).
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from lsprotocol import types

from ..engine.types import Suggestion
from ..settings import Settings
from ..verify import FAILURES, LABELS, Found, NotFound, Record, Unchecked, Verdict, Verifier
from .features import Feature
from .server import GalacticaServer

log = logging.getLogger(__name__)

RESOLVE_WAIT_S = 1.5  # the most completionItem/resolve (and the suggestions command) waits for a check
RECHECK_S = 30.0  # a check whose sources failed is asked again after this
MAX_CHECKS = 512  # checks kept (the oldest go first)
THREADS = 4  # checks running at once (each source's own pacing still holds)
MARK = "\n\n**Check:** "  # where an item's documentation gives the check
OFF = ("not checked (verification is off: `galactica.verify` names no source, so nothing is sent; name crossref,"
       " dblp, arxiv or semanticscholar to check suggestions)")
_SETTINGS = ("verify", "verify_endpoints", "verify_timeout")


@dataclass
class Check:
    task: asyncio.Task
    finished: float | None = None  # the loop's time when the task ended


@dataclass
class Verification:
    verifier: Verifier | None = None
    executor: ThreadPoolExecutor | None = None
    checks: dict[tuple[str, str], Check] = field(default_factory=dict)  # (title, author) -> the check


def verification(ls: GalacticaServer) -> Verification:
    return ls.state(Verification)


def sources(ls: GalacticaServer) -> tuple[str, ...]:
    return tuple(ls.settings.verify)


def verifier(ls: GalacticaServer) -> Verifier:
    """The Verifier for the current settings (kept: it holds each source's pacing)."""
    state = verification(ls)
    if state.verifier is None:
        if state.executor is None:
            state.executor = ThreadPoolExecutor(THREADS, thread_name_prefix="galactica-verify")
        s = ls.settings
        state.verifier = Verifier(s.verify_endpoints, timeout=s.verify_timeout, executor=state.executor)
    return state.verifier


def failed(verdict: Verdict) -> bool:
    """Whether a source could not answer (worth asking again later)."""
    return isinstance(verdict, Unchecked) or any(not r.ok for r in verdict.reports)


def check(ls: GalacticaServer, title: str, author: str | None) -> asyncio.Task | None:
    """The check of one suggestion, started in the background when there is none yet; None when off."""
    names = sources(ls)
    if not names or not title.strip():
        return None
    state = verification(ls)
    key = (title.strip(), (author or "").strip())
    loop = asyncio.get_running_loop()
    kept = state.checks.pop(key, None)
    if kept is not None and not _stale(kept, loop.time()):
        state.checks[key] = kept  # the most recently used last
        return kept.task
    task = ls.run_task(verifier(ls).check_reference_async(key[0], key[1] or None, names), f"verify {key[0]!r}")
    entry = state.checks[key] = Check(task)
    task.add_done_callback(lambda t: setattr(entry, "finished", loop.time()))
    while len(state.checks) > MAX_CHECKS:
        state.checks.pop(next(iter(state.checks)))
    return task


def _stale(kept: Check, now: float) -> bool:
    if kept.task.cancelled():
        return True
    if not kept.task.done() or kept.finished is None:
        return False
    return failed(kept.task.result()) and now - kept.finished > RECHECK_S


def known(task: asyncio.Task | None) -> Verdict | None:
    """A check's verdict when it has one now."""
    if task is None or not task.done() or task.cancelled():
        return None
    return task.result()


# -- what a person reads -------------------------------------------------------------------------


def checking(names: tuple[str, ...]) -> str:
    return f"checking {', '.join(LABELS.get(n, n) for n in names)}…"


def short(verdict: Verdict) -> str:
    """The check in a few words (a menu item's detail): the record found, where it is not, or why not checked."""
    if isinstance(verdict, Found):
        return verdict.describe()
    if isinstance(verdict, NotFound):
        return f"not found in {', '.join(LABELS.get(s, s) for s in verdict.sources_checked)}"
    failures = [f"{r.label}: {FAILURES.get(r.status, r.status)}" for r in verdict.reports if not r.ok]
    return f"not checked ({'; '.join(failures) or verdict.reason})"


def sentence(verdict: Verdict | None, names: tuple[str, ...]) -> str:
    """The check in full (documentation, the command's result)."""
    if not names:
        return OFF
    if verdict is None:
        return checking(names)
    return verdict.describe()


def record_wire(record: Record) -> dict:
    return {"source": record.source, "identifier": record.identifier, "title": record.title,
            "firstAuthor": record.first_author, "year": record.year, "venue": record.venue, "doi": record.doi,
            "arxivId": record.arxiv_id}


def wire(verdict: Verdict | None, names: tuple[str, ...]) -> dict:
    """``{state, text, summary, record}``: state ``off``, ``checking``, ``found``, ``notFound`` or ``unchecked``."""
    if not names:
        state, summary = "off", "not checked (verification is off)"
    elif verdict is None:
        state, summary = "checking", checking(names)
    else:
        state = {Found: "found", NotFound: "notFound"}.get(type(verdict), "unchecked")
        summary = short(verdict)
    record = verdict.record if isinstance(verdict, Found) else None
    return {"state": state, "text": sentence(verdict, names), "summary": summary,
            "record": record_wire(record) if record else None}


def with_check(item: types.CompletionItem, base_detail: str | None, verdict: Verdict | None,
           names: tuple[str, ...]) -> types.CompletionItem:
    """The item with the check in its detail (when on) and its documentation (always)."""
    if names:
        now = short(verdict) if verdict is not None else checking(names)
        item.detail = f"{base_detail} · {now}" if base_detail else now
    line = sentence(verdict, names)
    if isinstance(verdict, Found):
        line += ". *Add BibTeX entry* writes this record's own entry"
    doc = item.documentation
    text = doc.value if isinstance(doc, types.MarkupContent) else (doc or "")
    text = text.split(MARK, 1)[0] + MARK + line + "."
    item.documentation = types.MarkupContent(kind=types.MarkupKind.Markdown, value=text)
    return item


# -- the parts other features call ---------------------------------------------------------------


def annotate(ls: GalacticaServer, item: types.CompletionItem, suggestion: Suggestion,
             in_library: bool) -> types.CompletionItem:
    """A citation item for a suggestion with its check as known now (``checking…`` until resolved).

    Starts the check in the background (never waits for it). Entries of the user's library are theirs: not checked.
    """
    if in_library:
        return item
    r = suggestion.reference
    item.data = {"galactica": "citation", "title": r.title, "author": r.author, "detail": item.detail}
    names = sources(ls)
    return with_check(item, item.detail, known(check(ls, r.title, r.author)), names)


async def resolve(ls: GalacticaServer, item: types.CompletionItem) -> types.CompletionItem:
    """A citation item with its check's result: waited for at most RESOLVE_WAIT_S, never blocking the loop."""
    data = item.data if isinstance(item.data, dict) else {}
    title = data.get("title")
    if data.get("galactica") != "citation" or not isinstance(title, str):
        return item
    author = data.get("author") if isinstance(data.get("author"), str) else None
    task = check(ls, title, author)
    if task is not None and not task.done():
        await asyncio.wait({task}, timeout=RESOLVE_WAIT_S)  # a timeout leaves the check running
    base = data.get("detail") if isinstance(data.get("detail"), str) else None
    return with_check(item, base, known(task), sources(ls))


async def add_statuses(ls: GalacticaServer, suggestions: list[dict]) -> None:
    """Each suggestion of ``galactica.suggestCitations`` gets ``verification`` (:func:`wire`; null for a library
    entry), after waiting at most RESOLVE_WAIT_S for the checks together."""
    names = sources(ls)
    tasks = [None if s.get("inLibrary") else check(ls, s["title"], s.get("author")) for s in suggestions]
    pending = [t for t in tasks if t is not None and not t.done()]
    if pending:
        await asyncio.wait(pending, timeout=RESOLVE_WAIT_S)
    for s, task in zip(suggestions, tasks):
        s["verification"] = None if s.get("inLibrary") else wire(known(task), names)


def picker_note(suggestion: dict) -> str:
    """`` · found: DOI …`` for a ``window/showMessageRequest`` action's title (nothing when off or in the library)."""
    v = suggestion.get("verification")
    return f" · {v['summary']}" if v and v["state"] != "off" else ""


def action_tag(ls: GalacticaServer, title: str, author: str | None) -> str:
    """How an "Add BibTeX entry" action ends: ``(found: DOI …)``, ``(record checked first)`` or ``(unverified)``.

    Starts the check when there is none (verification on), so that the command finds it done.
    """
    task = check(ls, title, author)
    verdict = known(task)
    if isinstance(verdict, Found):
        return f"(found: {verdict.record.identifier})"
    if task is not None and verdict is None:
        return "(record checked first)"
    return "(unverified)"


@dataclass(frozen=True)
class RealEntry:
    """The record's own BibTeX for a suggestion (``text``), or None and why (``status``, one line).

    ``note``: what a stub written instead says, when the record was found but its entry could not be had.
    """

    text: str | None
    status: str
    record: Record | None = None
    note: str | None = None


async def real_entry(ls: GalacticaServer, title: str, author: str | None, key: str | None = None) -> RealEntry | None:
    """The found record's entry for ``galactica.addBibEntry``; None when verification is off (nothing sent).

    Awaits the check (its own deadline bounds it) and the BibTeX (Crossref content negotiation for a DOI,
    arXiv's metadata for an arXiv id); the event loop never waits on either.
    """
    task = check(ls, title, author)
    if task is None:
        return None
    verdict = await asyncio.shield(task)  # a cancelled command leaves the check to finish for the menu
    if not isinstance(verdict, Found):
        return RealEntry(None, verdict.describe())
    entry = await verifier(ls).bibtex_async(verdict.record, key)
    if entry.text is None:
        record = verdict.record
        return RealEntry(None, f"{verdict.describe()}; its BibTeX could not be fetched ({entry.problem})", record,
                         f"suggested by Galactica; found in {LABELS.get(record.source, record.source)}:"
                         f" {record.identifier}; its BibTeX could not be fetched")
    return RealEntry(entry.text, verdict.describe(), verdict.record)


# -- the feature -----------------------------------------------------------------------------------


def settings_changed(ls: GalacticaServer, previous: Settings) -> None:
    current = ls.settings
    if any(getattr(current, name) != getattr(previous, name) for name in _SETTINGS):
        state = verification(ls)
        state.verifier = None  # the next check uses the new sources, endpoints and timeout
        state.checks.clear()


def register(server: GalacticaServer) -> None:
    @server.feature(types.COMPLETION_ITEM_RESOLVE)
    async def completion_item_resolve(ls: GalacticaServer, item: types.CompletionItem) -> types.CompletionItem:
        return await resolve(ls, item)


FEATURE = Feature("verification", register=register, settings_changed=settings_changed)
