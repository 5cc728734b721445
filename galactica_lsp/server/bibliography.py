r"""The user's bibliography in the server: loading, watching, diagnostics, quick fixes, new entries.

LSP methods: ``textDocument/didOpen``, ``didChange`` and ``didSave`` (a
document's ``.bib`` files are found and parsed in a worker thread, never on
the event loop; its diagnostics follow, debounced), ``workspace/
didChangeWatchedFiles`` (``**/*.bib``, registered when the client can:
re-read on change), ``textDocument/publishDiagnostics`` (on documents: cite
keys in no bibliography, ``[START_REF] … [END_REF]`` left in the text, named
``.bib`` files that do not exist; on ``.bib`` files: malformed blocks and
duplicate keys, which are skipped), quick fixes for ``textDocument/
codeAction`` (called by ``explain``, which owns that method), and the command
``galactica.addBibEntry`` (append a stub entry to a ``.bib`` file, byte for
byte preserving the rest, and cite its key).

Owns :class:`Libraries`: parsed ``.bib`` files by path (re-parsed when their
modification time or size changes, or when the editor holds newer text), the
match index per set of files, and the suggestions the completion menu last
showed per document (for "Add BibTeX entry for …").
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from lsprotocol.converters import get_converter
from pygls.capabilities import get_capability
from pygls.uris import from_fs_path, to_fs_path

from ..analysis.triggers import citation_trigger_at
from ..bibliography.find import Found, find_bibliographies
from ..bibliography.keys import citation_style, cite, cited_keys
from ..bibliography.match import LibraryMatch, MatchIndex
from ..bibliography.parse import Bibliography, parse_bib, read_bib
from ..bibliography.stub import append_stub, suggested_key, unique_key, write_stub
from ..engine.galactica import Reference, find_references
from ..engine.types import Suggestion
from .server import GalacticaServer, OpenDocument

log = logging.getLogger(__name__)

ADD_ENTRY = "galactica.addBibEntry"
SOURCE = "galactica"
QUICK_FIX = types.CodeActionKind.QuickFix
DEBOUNCE_S = 0.3
# Documents longer than this get no citation diagnostics (the scan is linear, but runs on every change).
MAX_DIAGNOSED_CHARS = 2_000_000
NEW_FILE = "references.bib"
_WIRE = get_converter()


@dataclass
class DocumentLibrary:
    """A document's bibliographies, parsed, and the index over them."""

    found: Found
    bibliographies: tuple[Bibliography, ...]
    index: MatchIndex

    def match(self, suggestion: Suggestion, threshold: float) -> LibraryMatch | None:
        return self.index.match(suggestion.reference.title, suggestion.reference.author, threshold)

    def target(self, document: Path | None) -> Path | None:
        """Where a new entry goes by default: the first bibliography, else a new file next to the document."""
        if self.found.paths:
            return self.found.paths[0]
        return document.parent / NEW_FILE if document is not None else None


@dataclass
class Libraries:
    parsed: dict[Path, tuple[tuple, Bibliography]] = field(default_factory=dict)
    indexes: dict[tuple, MatchIndex] = field(default_factory=dict)
    loading: dict[Path, asyncio.Task] = field(default_factory=dict)
    suggestions: dict[str, list[Suggestion]] = field(default_factory=dict)  # uri -> the menu's last suggestions
    made_up: dict[tuple[str, str], Suggestion] = field(default_factory=dict)  # (uri, key) -> suggestion
    debounce: dict[str, asyncio.TimerHandle] = field(default_factory=dict)
    published: set[str] = field(default_factory=set)  # .bib uris with diagnostics shown
    watching: bool = False


def document_path(uri: str) -> Path | None:
    path = to_fs_path(uri) if uri.startswith("file:") else None
    return Path(path) if path else None


def workspace_roots(ls: GalacticaServer) -> list[Path]:
    roots = [document_path(f.uri) for f in ls.workspace.folders.values()]
    if not roots and ls.workspace.root_uri:
        roots = [document_path(ls.workspace.root_uri)]
    return [r for r in roots if r is not None]


def _stamp(ls: GalacticaServer, path: Path) -> tuple:
    """What identifies a version of a .bib: the editor's version when it is open, else mtime and size."""
    uri = from_fs_path(str(path))
    if uri in ls.workspace.text_documents:
        doc = ls.workspace.get_text_document(uri)
        return ("open", doc.version, len(doc.source))
    try:
        st = path.stat()
        return ("disk", st.st_mtime_ns, st.st_size)
    except OSError:
        return ("missing",)


async def _parsed(ls: GalacticaServer, path: Path) -> Bibliography:
    """A .bib file's entries, parsed again (in a thread) only when it changed; one load per file at a time."""
    libraries: Libraries = ls.libraries
    stamp = _stamp(ls, path)
    cached = libraries.parsed.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    running = libraries.loading.get(path)
    if running is None or running.done():
        uri = from_fs_path(str(path))
        text = ls.workspace.get_text_document(uri).source if stamp[0] == "open" else None
        work = asyncio.to_thread(parse_bib, text, path) if text is not None else asyncio.to_thread(read_bib, path)
        running = libraries.loading[path] = asyncio.ensure_future(work)
    bib = await asyncio.shield(running)
    libraries.parsed[path] = (stamp, bib)
    libraries.loading.pop(path, None)
    _publish_bib(ls, path, bib)
    return bib


async def library_for(ls: GalacticaServer, doc: OpenDocument) -> DocumentLibrary:
    """The document's bibliographies, loaded (awaiting a background parse if one is running)."""
    path = document_path(doc.uri)
    found = await asyncio.to_thread(
        find_bibliographies, path, doc.text, doc.language, tuple(ls.settings.bibliography), workspace_roots(ls)
    )
    bibs = tuple(await asyncio.gather(*(_parsed(ls, p) for p in found.paths)))
    libraries: Libraries = ls.libraries
    key = tuple((p, libraries.parsed[p][0]) for p in found.paths)
    index = libraries.indexes.get(key)
    if index is None:
        index = await asyncio.to_thread(MatchIndex, bibs)  # 10,000 entries: ~0.1 s, off the event loop
        libraries.indexes = {key: index, **dict(list(libraries.indexes.items())[:7])}  # a few recent sets
    return DocumentLibrary(found, bibs, index)


# -- diagnostics -------------------------------------------------------------------------------


def document_diagnostics(doc: OpenDocument, library: DocumentLibrary, threshold: float, encoding: str) -> list:
    """Unknown cite keys, leftover Galactica references and missing .bib files, for one document."""
    text = doc.text
    if len(text) > MAX_DIAGNOSED_CHARS:
        return []
    out = []
    names = ", ".join(p.name for p in library.found.paths)
    if library.found.paths:
        for cited in cited_keys(text, doc.language):
            if not library.index.has_key(cited.key):
                out.append(types.Diagnostic(
                    range=doc.range(cited.start, cited.end, encoding),
                    message=f"citation key `{cited.key}` is in no bibliography ({names})",
                    severity=types.DiagnosticSeverity.Warning, source=SOURCE, code="unknown-key",
                    data={"key": cited.key},
                ))
    for missing in library.found.missing:
        at = text.find(missing.removesuffix(".bib"))
        if at != -1:
            out.append(types.Diagnostic(
                range=doc.range(at, at + len(missing.removesuffix(".bib")), encoding),
                message=f"bibliography `{missing}` not found", severity=types.DiagnosticSeverity.Warning,
                source=SOURCE, code="missing-bibliography",
            ))
    for span in find_references(text):
        ref = span.reference
        match = library.index.match(ref.title, ref.author, threshold)
        where = f"in your library as `{match.key}`" if match else "not in your bibliography"
        out.append(types.Diagnostic(
            range=doc.range(span.start, span.end, encoding),
            message=f"Galactica reference left in the text: “{ref.text}”, {where}",
            severity=types.DiagnosticSeverity.Hint, source=SOURCE, code="galactica-reference",
            data={"reference": ref.text, "key": match.key if match else None},
        ))
    return out


def bib_diagnostics(bib: Bibliography) -> list[types.Diagnostic]:
    return [
        types.Diagnostic(
            range=types.Range(types.Position(p.line, 0), types.Position(p.end_line + 1, 0)),
            message=p.message, severity=types.DiagnosticSeverity.Warning, source=SOURCE, code="bibtex",
        )
        for p in bib.problems
    ]


def _publish_bib(ls: GalacticaServer, path: Path, bib: Bibliography) -> None:
    uri = from_fs_path(str(path))
    diagnostics = bib_diagnostics(bib)
    if not diagnostics and uri not in ls.libraries.published:
        return
    ls.libraries.published.add(uri) if diagnostics else ls.libraries.published.discard(uri)
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics))


async def refresh(ls: GalacticaServer, uri: str) -> None:
    """Load a document's bibliographies and publish its diagnostics."""
    doc = ls.document(uri)
    if doc is None or not ls.language_enabled(doc.language) or len(doc.text) > MAX_DIAGNOSED_CHARS:
        return
    library = await library_for(ls, doc)
    current = ls.document(uri)
    if current is None or current.version != doc.version:
        return  # changed meanwhile: the next refresh says it
    diagnostics = await asyncio.to_thread(
        document_diagnostics, doc, library, ls.settings.bib_match_threshold, ls.encoding
    )
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=doc.version)
    )


def schedule_refresh(ls: GalacticaServer, uri: str, delay: float = DEBOUNCE_S) -> None:
    libraries: Libraries = ls.libraries
    pending = libraries.debounce.pop(uri, None)
    if pending is not None:
        pending.cancel()
    loop = asyncio.get_running_loop()
    libraries.debounce[uri] = loop.call_later(
        delay, lambda: (libraries.debounce.pop(uri, None), ls.run_task(refresh(ls, uri), f"bibliography {uri}"))
    )


def _refresh_all(ls: GalacticaServer) -> None:
    for uri in list(ls.workspace.text_documents):
        if not uri.endswith(".bib"):
            schedule_refresh(ls, uri)


async def _watch(ls: GalacticaServer) -> None:
    """Ask the client to tell us about .bib files changing on disk, when it can."""
    if not get_capability(ls.client_capabilities, "workspace.did_change_watched_files.dynamic_registration", False):
        return
    options = types.DidChangeWatchedFilesRegistrationOptions(watchers=[types.FileSystemWatcher(glob_pattern="**/*.bib")])
    registration = types.Registration(id="galactica-bib-watch", method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                                      register_options=options)
    try:
        await asyncio.wait_for(
            ls.client_register_capability_async(types.RegistrationParams(registrations=[registration])), timeout=10
        )
    except Exception as exc:
        log.info("no .bib file watching: %s", exc)


# -- quick fixes and new entries -----------------------------------------------------------------


def quick_fixes(ls: GalacticaServer, doc: OpenDocument, start: int, end: int,
                diagnostics: list[types.Diagnostic]) -> list[types.CodeAction]:
    """Code actions at a range: cite a leftover Galactica reference; add a stub entry for a suggestion."""
    actions: list[types.CodeAction] = []
    style = citation_style(doc.text, doc.language)
    libraries: Libraries = ls.libraries
    for diagnostic in diagnostics:
        data = diagnostic.data if isinstance(diagnostic.data, dict) else {}
        if diagnostic.source != SOURCE:
            continue
        if diagnostic.code == "galactica-reference" and style and isinstance(data.get("reference"), str):
            span = _WIRE.unstructure(diagnostic.range)
            title, author = _split(data["reference"])
            if data.get("key"):
                edit = types.WorkspaceEdit(changes={doc.uri: [types.TextEdit(range=diagnostic.range,
                                                                             new_text=cite(data["key"], style))]})
                actions.append(types.CodeAction(
                    title=f"Galactica: cite `{data['key']}` from your library", kind=QUICK_FIX,
                    diagnostics=[diagnostic], edit=edit, is_preferred=True))
            else:
                actions.append(_add_action(doc, f"“{data['reference']}”", {"range": span}, title, author,
                                           None, [diagnostic]))
        elif diagnostic.code == "unknown-key" and isinstance(data.get("key"), str):
            suggestion = libraries.made_up.get((doc.uri, data["key"]))
            if suggestion is not None:
                r = suggestion.reference
                actions.append(_add_action(doc, f"“{r.text}”", {}, r.title, r.author, data["key"], [diagnostic]))
    trigger = citation_trigger_at(doc.text, end, doc.language) if start == end else None
    if trigger is not None and trigger.kind != "galactica":
        position = _WIRE.unstructure(doc.position(end, ls.encoding))
        for suggestion in libraries.suggestions.get(doc.uri, []):  # those the menu showed as not in the library
            r = suggestion.reference
            actions.append(_add_action(doc, f"“{r.text}”", {"position": position}, r.title, r.author, None, []))
    return actions


def _add_action(doc: OpenDocument, what: str, where: dict, title: str, author: str | None, key: str | None,
                diagnostics: list) -> types.CodeAction:
    argument = {"uri": doc.uri, "title": title, "author": author, **where}
    if key:
        argument["key"] = key
    cites = " and cite it" if where else ""
    command = types.Command(title=f"Add BibTeX entry for {what}{cites}", command=ADD_ENTRY, arguments=[argument])
    return types.CodeAction(title=f"Galactica: add BibTeX entry for {what}{cites} (unverified)", kind=QUICK_FIX,
                            diagnostics=diagnostics or None, command=command)


def _split(reference: str) -> tuple[str, str | None]:
    r = Reference(reference)
    return r.title, r.author


async def add_entry(ls: GalacticaServer, doc: OpenDocument, a: dict[str, Any],
                    position: types.Position | None, span: types.Range | None) -> dict:
    """Write a stub entry to the chosen .bib and cite its key at ``position`` or in place of ``span``."""
    library = await library_for(ls, doc)
    path = document_path(doc.uri)
    bib = Path(os.path.expanduser(a["bib"])) if isinstance(a.get("bib"), str) else library.target(path)
    if bib is None:
        raise ValueError("no .bib file to write to: name one (argument `bib`) or save the document first")
    if not bib.is_absolute() and path is not None:
        bib = path.parent / bib
    wanted = a.get("key") if isinstance(a.get("key"), str) else None
    if wanted and library.index.has_key(wanted):
        raise ValueError(f"`{wanted}` is already in your bibliography")
    taken = set(library.index.keys)
    if bib.is_file() and bib.resolve() not in library.found.paths:
        taken |= (await _parsed(ls, bib.resolve())).keys
    title, author = str(a["title"]), a.get("author") if isinstance(a.get("author"), str) else None
    bib_uri = from_fs_path(str(bib))
    edits: dict[str, list[types.TextEdit]] = {}
    if bib_uri in ls.workspace.text_documents:  # the editor holds the file: edit its buffer, never the disk
        held = ls.document(bib_uri)
        stub = append_stub(held.text, title, author, taken, wanted)
        at = held.position(stub.offset, ls.encoding)
        edits[held.uri] = [types.TextEdit(range=types.Range(at, at), new_text=stub.text)]
        written = False
    else:
        stub = await asyncio.to_thread(write_stub, bib, title, author, taken, wanted)
        written = True
    current = ls.document(doc.uri) or doc
    insertion = _citation_edit(ls, current, stub.key, position, span)
    if insertion is not None:
        edits.setdefault(doc.uri, []).append(insertion)
    applied = True
    if edits:
        label = f"Galactica: add {stub.key} to {bib.name}"
        answer = await asyncio.wait_for(
            ls.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(edit=types.WorkspaceEdit(changes=edits),
                                                                         label=label)), timeout=10)
        applied = bool(answer and answer.applied)
    ls.libraries.made_up.pop((doc.uri, stub.key), None)
    _refresh_all(ls)
    return {"key": stub.key, "bib": str(bib), "written": written, "cited": insertion is not None and applied,
            "applied": applied}


def _citation_edit(ls: GalacticaServer, doc: OpenDocument, key: str, position: types.Position | None,
                   span: types.Range | None) -> types.TextEdit | None:
    """The key cited in the document's syntax: in the citation being typed, or in place of a span."""
    style = citation_style(doc.text, doc.language)
    if span is not None:
        return types.TextEdit(range=span, new_text=cite(key, style) if style else key)
    if position is None:
        return None
    offset = doc.offset(position, ls.encoding)
    trigger = citation_trigger_at(doc.text, offset, doc.language)
    if trigger is not None and trigger.kind != "galactica":
        if key in trigger.existing_keys:
            return None
        return types.TextEdit(range=doc.range(trigger.replace_start, trigger.replace_end, ls.encoding), new_text=key)
    return types.TextEdit(range=types.Range(position, position), new_text=cite(key, style) if style else key)


def remember(ls: GalacticaServer, uri: str, shown: list[tuple[Suggestion, LibraryMatch | None, str | None]]) -> None:
    """The menu's suggestions for a document, and which made-up key each unmatched one inserts."""
    libraries: Libraries = ls.libraries
    libraries.suggestions[uri] = [s for s, match, _ in shown if match is None]
    for suggestion, match, key in shown:
        if match is None and key:
            libraries.made_up[(uri, key)] = suggestion
    if len(libraries.made_up) > 1000:  # a long session: keep the newest
        libraries.made_up = dict(list(libraries.made_up.items())[-500:])


def made_up_key(library: DocumentLibrary | None, suggestion: Suggestion) -> str:
    """The key an unmatched suggestion gets: made from it, unused in the library (when there is one)."""
    taken = library.index.keys if library is not None else ()
    return unique_key(suggested_key(suggestion.reference.title, suggestion.reference.author), taken)


def forget(ls: GalacticaServer, uri: str) -> None:
    """A document closed: drop what was kept for it and clear its diagnostics."""
    libraries: Libraries | None = getattr(ls, "libraries", None)
    if libraries is None or uri.endswith(".bib"):
        return
    libraries.suggestions.pop(uri, None)
    libraries.made_up = {k: v for k, v in libraries.made_up.items() if k[0] != uri}
    pending = libraries.debounce.pop(uri, None)
    if pending is not None:
        pending.cancel()
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


def register(server: GalacticaServer) -> None:
    # explain imports citations, which imports this module: its command helpers are imported here.
    from .explain import BadArguments, _arguments, _open, _position, command_errors

    server.libraries = Libraries()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: GalacticaServer, params: types.DidOpenTextDocumentParams) -> None:
        if not ls.libraries.watching:
            ls.libraries.watching = True
            ls.run_task(_watch(ls), "watch .bib files")
        _changed(ls, params.text_document.uri, delay=0)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: GalacticaServer, params: types.DidChangeTextDocumentParams) -> None:
        _changed(ls, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: GalacticaServer, params: types.DidSaveTextDocumentParams) -> None:
        _changed(ls, params.text_document.uri, delay=0)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(ls: GalacticaServer, params: types.DidChangeWatchedFilesParams) -> None:
        if any(change.uri.endswith(".bib") for change in params.changes):
            _refresh_all(ls)

    @server.command(ADD_ENTRY)
    @command_errors
    async def add_entry_command(ls: GalacticaServer, *args):
        """Add a stub entry for a suggestion: {uri, title, author?, bib?, key?, position? | range?}."""
        a = _arguments(args, ("uri", "title"))
        doc = _open(ls, a["uri"])
        position = _position(a["position"]) if "position" in a else None
        span = None
        if isinstance(a.get("range"), dict):
            span = types.Range(_position(a["range"].get("start")), _position(a["range"].get("end")))
        try:
            return await add_entry(ls, doc, a, position, span)
        except (ValueError, OSError) as exc:
            raise BadArguments(str(exc)) from None


def _changed(ls: GalacticaServer, uri: str, delay: float = DEBOUNCE_S) -> None:
    """A document or a .bib open in the editor changed: re-check what depends on it."""
    if uri.endswith(".bib"):
        _refresh_all(ls)
    else:
        schedule_refresh(ls, uri, delay)
