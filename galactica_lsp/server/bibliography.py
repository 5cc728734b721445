r"""The user's bibliography in the server: loading, watching, diagnostics, quick fixes, new entries.

LSP methods: this feature's part of ``textDocument/didOpen``, ``didChange``,
``didSave`` and ``didClose`` (a document's ``.bib`` files are found and parsed
in a worker thread, never on the event loop; its diagnostics follow,
debounced), ``workspace/didChangeWatchedFiles`` (``**/*.{bib,json,yaml,yml}``,
registered when the client can: a changed ``.bib``, or a CSL-JSON/YAML file a
document cites from, is re-read), ``textDocument/publishDiagnostics``
(on documents: cite keys in no bibliography, ``[START_REF] … [END_REF]`` left
in the text, named ``.bib`` files that do not exist; on ``.bib`` files:
malformed blocks and duplicate keys, which are skipped, and files that cannot
be a bibliography), its quick fixes in ``textDocument/codeAction``, and the
command ``galactica.addBibEntry`` (arguments :class:`AddEntryArguments`).

A ``.bib`` file is read only when it is a regular file of at most
:data:`MAX_BIB_BYTES` that is text; one that is not, and a
``galactica.bibliography`` setting naming something that is not such a file,
are said to the user once per problem (``window/showMessage``).
``galactica.addBibEntry`` never writes an existing file: it checks every
argument, allows only a bibliography of the document (or, when it has none, a
new ``references.bib`` next to it), and sends the entry and the citation as
one ``workspace/applyEdit`` that the editor applies (creating the new file
there too; a client that cannot create files gets the new file written by the
server, never over an existing one). The entry is the record's own BibTeX when
``galactica.verify`` found the paper (``verification``), else an unverified
``@misc`` stub; either is only ever added after the file's last byte.

Owns :class:`Libraries`, this feature's state: parsed ``.bib`` files by path
(re-parsed when they change on disk, even rewritten within a second at the same size, or when the editor
holds newer text, see :func:`_disk_stamp`), the match index per set of files, the suggestions the
completion menu last showed per document (for "Add BibTeX entry for …"), and
the problems already told.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

import attrs
from lsprotocol import types
from lsprotocol.converters import get_converter
from pygls.capabilities import get_capability
from pygls.uris import from_fs_path, to_fs_path

from ..analysis.context import looks_binary
from ..analysis.triggers import citation_trigger_at
from ..bibliography.find import Found, find_bibliographies
from ..bibliography.keys import citation_style, cite, cited_keys
from ..bibliography.match import LibraryMatch, MatchIndex
from ..bibliography.placement import NoPlace, citation_placement, open_list_at
from ..bibliography.files import MAX_BYTES, FileStamp, Unreadable, check_file, read_text_stamped, unchanged
from ..bibliography.parse import BibProblem, Bibliography, parse_bibliography
from ..bibliography.stub import append_stub, suggested_key, unique_key
from ..engine.galactica import Reference, find_references
from ..engine.types import Suggestion
from ..verify.bibtex import appended
from ..settings import Settings
from .arguments import arguments, shown
from .commands import BadArguments, CommandFailed, apply_edit, command, open_document, wire_position
from .features import Feature
from .positions import LineIndex
from .server import GalacticaServer, OpenDocument
from .verification import action_tag, real_entry

log = logging.getLogger(__name__)

ADD_ENTRY = "galactica.addBibEntry"
SOURCE = "galactica"
QUICK_FIX = types.CodeActionKind.QuickFix
DEBOUNCE_S = 0.3
# Documents longer than this get no citation diagnostics (the scan is linear, but runs on every change).
MAX_DIAGNOSED_CHARS = 2_000_000
NEW_FILE = "references.bib"
MAX_BIB_BYTES = MAX_BYTES  # 64 MiB: a 10,000-entry library is ~5 MB
_WIRE = get_converter()
_KEY = re.compile(r"[^\s,{}()\"#%'=\\~]+")  # characters BibTeX allows in a key
Stamp = FileStamp | tuple  # a version of a bibliography file (see _disk_stamp)
# The files watched and re-read when they change: BibTeX/biblatex, CSL-JSON, CSL-YAML (see bibliography.model).
BIB_SUFFIXES = (".bib", ".json", ".yaml", ".yml")
WATCHED = "**/*.{bib,json,yaml,yml}"


@arguments
class AddEntryArguments:
    """``galactica.addBibEntry``: a stub entry for ``title`` (``author``), in ``bib`` (default: the document's
    first bibliography), under ``key`` (default: made from title and author), cited at ``position`` or in place
    of ``range`` (neither: not cited)."""

    uri: str
    title: str
    author: str | None = None
    key: str | None = attrs.field(default=None)
    bib: str | None = None
    position: types.Position | None = None
    range: types.Range | None = None

    @key.validator
    def _check_key(self, attribute, value) -> None:
        if value is not None and not _KEY.fullmatch(value):
            raise ValueError(f"`key` {shown(value)} is not a BibTeX key (no spaces, commas, braces or quotes)")

    def __attrs_post_init__(self) -> None:
        if self.position is not None and self.range is not None:
            raise ValueError("give `position` or `range`, not both")


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
    parsed: dict[Path, tuple[Stamp, Bibliography]] = field(default_factory=dict)
    indexes: dict[tuple, MatchIndex] = field(default_factory=dict)
    loading: dict[Path, asyncio.Task] = field(default_factory=dict)  # -> (Bibliography, reason it was skipped)
    suggestions: dict[str, list[Suggestion]] = field(default_factory=dict)  # uri -> the menu's last suggestions
    places: dict[str, tuple | None] = field(default_factory=dict)  # uri -> where the menu showed them (menu_place)
    made_up: dict[tuple[str, str], Suggestion] = field(default_factory=dict)  # (uri, key) -> suggestion
    debounce: dict[str, asyncio.TimerHandle] = field(default_factory=dict)
    published: set[str] = field(default_factory=set)  # .bib uris with diagnostics shown
    told: set[str] = field(default_factory=set)  # problems already said in window/showMessage
    named: set[str] = field(default_factory=set)  # file names of the bibliographies documents cite from
    watching: bool = False


def libraries(ls: GalacticaServer) -> Libraries:
    return ls.state(Libraries)


def tell_once(ls: GalacticaServer, message: str) -> None:
    """Say a problem with the user's bibliography files once per session (it is logged each time)."""
    state = libraries(ls)
    if message in state.told:
        log.info("%s", message)
        return
    state.told.add(message)
    ls.show(message)


def bib_file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as a bibliography (not there, not a regular file, too large), or None.

    Checked before any read (``bibliography.files``): a FIFO or /dev/zero named as a bibliography is never opened.
    """
    try:
        check_file(path, MAX_BIB_BYTES)
    except Unreadable as exc:
        return f"bibliography {path} {exc.reason}: skipped"
    return None


def binary_problem(path: Path, text: str) -> str | None:
    if looks_binary(text):
        return f"{path} is not a bibliography: it holds binary data (NUL or control bytes): skipped"
    return None


def read_bib_safely(path: Path) -> tuple[str | None, str | None]:
    """A bibliography file's text, or None and the reason it was not read (checked, read within the limit, looked at)."""
    text, problem, _ = _read_stamped(path)
    return text, problem


def _read_stamped(path: Path) -> tuple[str | None, str | None, FileStamp | None]:
    """:func:`read_bib_safely`, and the version of the file it read (None when it is not a regular file)."""
    try:
        text, stamp = read_text_stamped(path, MAX_BIB_BYTES)
    except Unreadable as exc:
        return None, f"bibliography {path} {exc.reason}: skipped", exc.stamp
    problem = binary_problem(path, text)
    return (None, problem, stamp) if problem else (text, None, stamp)


def _parse_disk(path: Path) -> tuple[Bibliography, str | None, FileStamp | None]:
    """The file parsed, or (when it is not read) empty with its one problem; that reason; the version read."""
    text, problem, stamp = _read_stamped(path)
    if text is None:
        return Bibliography.of(path, [], [BibProblem(0, 0, problem)]), problem, stamp
    return parse_bibliography(text, path), None, stamp


def _parse_text(path: Path, text: str) -> tuple[Bibliography, str | None, None]:
    problem = binary_problem(path, text)
    if problem is not None:
        return Bibliography.of(path, [], [BibProblem(0, 0, problem)]), problem, None
    return parse_bibliography(text, path), None, None


def setting_problems(setting: tuple[str, ...], roots: list[Path]) -> list[str]:
    """What is wrong with each file the ``galactica.bibliography`` setting names (resolved as documents' are)."""
    problems = []
    for name in setting:
        path = Path(os.path.expanduser(name))
        candidates = [path] if path.is_absolute() else [root / path for root in roots]
        found = [c for c in candidates if os.path.lexists(c)]
        if not found:
            where = "" if path.is_absolute() else f" in {', '.join(map(str, roots)) or 'no workspace folder'}"
            problems.append(f"galactica.bibliography: {name!r} not found{where}")
            continue
        problem = bib_file_problem(found[0])
        if problem is None:
            text, problem = read_bib_safely(found[0])
        if problem is not None:
            problems.append(f"galactica.bibliography: {problem}")
    return problems


def document_path(uri: str) -> Path | None:
    path = to_fs_path(uri) if uri.startswith("file:") else None
    return Path(path) if path else None


def workspace_roots(ls: GalacticaServer) -> list[Path]:
    roots = [document_path(f.uri) for f in ls.workspace.folders.values()]
    if not roots and ls.workspace.root_uri:
        roots = [document_path(ls.workspace.root_uri)]
    return [r for r in roots if r is not None]


def _open_stamp(ls: GalacticaServer, path: Path) -> Stamp | None:
    """The editor's version of a bibliography file it holds, or None."""
    uri = from_fs_path(str(path))
    if uri in ls.workspace.text_documents:
        doc = ls.workspace.get_text_document(uri)
        return ("open", doc.version, len(doc.source))
    return None


def _disk_stamp(path: Path, cached: Stamp | None) -> Stamp:
    """The version of a bibliography file on disk: the :class:`FileStamp` it was read as, while it is still that
    version (:func:`unchanged`: its metadata, and its content's hash when it changed within a tick of a coarse
    clock, so that a Better BibTeX export rewriting it within the second at the same size counts as changed);
    else its metadata now, which no version read equals (it is read again)."""
    if isinstance(cached, FileStamp) and unchanged(path, cached):
        return cached
    try:
        st = path.stat()
        return ("disk", st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    except OSError:
        return ("missing",)


async def _parsed(ls: GalacticaServer, path: Path) -> Bibliography:
    """A bibliography file's entries, parsed again (in a thread) only when it changed; one load per file at a time."""
    state = libraries(ls)
    cached = state.parsed.get(path)
    stamp = _open_stamp(ls, path) or await asyncio.to_thread(_disk_stamp, path, cached[0] if cached else None)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    running = state.loading.get(path)
    if running is None or running.done():
        uri = from_fs_path(str(path))
        text = ls.workspace.get_text_document(uri).source if stamp[0] == "open" else None
        work = asyncio.to_thread(_parse_text, path, text) if text is not None else asyncio.to_thread(_parse_disk, path)
        running = state.loading[path] = asyncio.ensure_future(work)
    bib, skipped, read = await asyncio.shield(running)
    state.parsed[path] = (read or stamp, bib)  # the version read, when it was read from disk
    state.loading.pop(path, None)
    if skipped is not None:
        tell_once(ls, skipped)  # the whole file (not a bibliography, or unreadable): said, not only on the .bib
    _publish_bib(ls, path, bib)
    return bib


async def library_for(ls: GalacticaServer, doc: OpenDocument) -> DocumentLibrary:
    """The document's bibliographies, loaded (awaiting a background parse if one is running)."""
    path = document_path(doc.uri)
    found = await asyncio.to_thread(
        find_bibliographies, path, doc.text, doc.language, tuple(ls.settings.bibliography), workspace_roots(ls)
    )
    bibs = tuple(await asyncio.gather(*(_parsed(ls, p) for p in found.paths)))
    state = libraries(ls)
    state.named.update([p.name for p in found.paths] + [Path(s.name).name for s in found.skipped])
    key = tuple((p, state.parsed[p][0]) for p in found.paths)
    index = state.indexes.get(key)
    if index is None:
        index = await asyncio.to_thread(MatchIndex, bibs)  # 10,000 entries: ~0.1 s, off the event loop
        state.indexes = {key: index, **dict(list(state.indexes.items())[:7])}  # a few recent sets
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
    for skipped in library.found.skipped:
        if skipped.origin != "document":
            continue  # the setting's problems are shown as messages (setting_problems)
        name = skipped.name.removesuffix(".bib")
        at = text.find(name)
        if at != -1:
            out.append(types.Diagnostic(
                range=doc.range(at, at + len(name), encoding),
                message=skipped.message, severity=types.DiagnosticSeverity.Warning,
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
    published = libraries(ls).published
    if not diagnostics and uri not in published:
        return
    published.add(uri) if diagnostics else published.discard(uri)
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics))


async def refresh(ls: GalacticaServer, uri: str) -> None:
    """Load a document's bibliographies and publish its diagnostics."""
    doc = ls.document(uri)
    if doc is None or not ls.language_enabled(doc.language) or len(doc.text) > MAX_DIAGNOSED_CHARS:
        return
    await check_setting(ls)
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


async def check_setting(ls: GalacticaServer) -> None:
    """Tell the user (once per problem) what is wrong with the files the ``galactica.bibliography`` setting names."""
    setting = tuple(ls.settings.bibliography)
    if setting:
        for problem in await asyncio.to_thread(setting_problems, setting, workspace_roots(ls)):
            tell_once(ls, problem)


def schedule_refresh(ls: GalacticaServer, uri: str, delay: float = DEBOUNCE_S) -> None:
    state = libraries(ls)
    pending = state.debounce.pop(uri, None)
    if pending is not None:
        pending.cancel()
    loop = asyncio.get_running_loop()
    state.debounce[uri] = loop.call_later(
        delay, lambda: (state.debounce.pop(uri, None), ls.run_task(refresh(ls, uri), f"bibliography {uri}"))
    )


def _refresh_all(ls: GalacticaServer) -> None:
    for uri in list(ls.workspace.text_documents):
        if not _is_bibliography(uri):
            schedule_refresh(ls, uri)


async def _watch(ls: GalacticaServer) -> None:
    """Ask the client to tell us about .bib files changing on disk, when it can."""
    if not get_capability(ls.client_capabilities, "workspace.did_change_watched_files.dynamic_registration", False):
        return
    options = types.DidChangeWatchedFilesRegistrationOptions(watchers=[types.FileSystemWatcher(glob_pattern=WATCHED)])
    registration = types.Registration(id="galactica-bib-watch", method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                                      register_options=options)
    try:
        await asyncio.wait_for(
            ls.client_register_capability_async(types.RegistrationParams(registrations=[registration])), timeout=10
        )
    except Exception as exc:
        log.info("no .bib file watching: %s", exc)


# -- quick fixes -------------------------------------------------------------------------------


def code_actions(ls: GalacticaServer, doc: OpenDocument, start: int, end: int,
                 params: types.CodeActionParams) -> list[types.CodeAction]:
    """Quick fixes at a range: cite a leftover Galactica reference; add a stub entry for a suggestion."""
    actions: list[types.CodeAction] = []
    style = citation_style(doc.text, doc.language)
    state = libraries(ls)
    for diagnostic in params.context.diagnostics:
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
                actions.append(_add_action(ls, doc, f"“{data['reference']}”", {"range": span}, title, author,
                                           None, [diagnostic]))
        elif diagnostic.code == "unknown-key" and isinstance(data.get("key"), str):
            suggestion = state.made_up.get((doc.uri, data["key"]))
            if suggestion is not None:
                r = suggestion.reference
                actions.append(_add_action(ls, doc, f"“{r.text}”", {}, r.title, r.author, data["key"], [diagnostic]))
    place = menu_place(doc.text, end, doc.language) if start == end else None
    if place is not None and place == state.places.get(doc.uri):  # not once the place is cited
        position = wire_position(doc.position(end, ls.encoding))
        for suggestion in state.suggestions.get(doc.uri, []):  # those the menu showed as not in the library
            r = suggestion.reference
            actions.append(_add_action(ls, doc, f"“{r.text}”", {"position": position}, r.title, r.author, None, []))
    return actions


def _add_action(ls: GalacticaServer, doc: OpenDocument, what: str, where: dict, title: str, author: str | None,
                key: str | None, diagnostics: list) -> types.CodeAction:
    argument = {"uri": doc.uri, "title": title, **where}
    if author:
        argument["author"] = author
    if key:
        argument["key"] = key
    cites = " and cite it" if where else ""
    command = types.Command(title=f"Add BibTeX entry for {what}{cites}", command=ADD_ENTRY, arguments=[argument])
    tag = action_tag(ls, title, author)  # (unverified), or what galactica.verify found
    return types.CodeAction(title=f"Galactica: add BibTeX entry for {what}{cites} {tag}", kind=QUICK_FIX,
                            diagnostics=diagnostics or None, command=command)


def _split(reference: str) -> tuple[str, str | None]:
    r = Reference(reference)
    return r.title, r.author


# -- new entries -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """The .bib file a new entry goes to, checked: its current text, or None for a file to create."""

    path: Path
    uri: str
    text: str | None
    version: int | None  # the editor's version when it holds the file


def _target_path(doc: OpenDocument, library: DocumentLibrary, bib: str | None) -> tuple[Path, bool]:
    """Where the entry may go, and whether that is a new file; BadArguments for anywhere else."""
    path = document_path(doc.uri)
    default = library.target(path)
    if bib is None:
        if default is None:
            raise BadArguments("no .bib file to write to: name one of the document's bibliographies (argument `bib`)"
                               " or save the document first")
        wanted = default
    else:
        wanted = Path(os.path.expanduser(bib))
        if not wanted.is_absolute():
            if path is None:
                raise BadArguments(f"`bib` {bib!r} is relative, and the document is not a file")
            wanted = path.parent / wanted
    wanted = wanted.resolve()
    if library.found.paths:
        if wanted not in library.found.paths:
            names = ", ".join(str(p) for p in library.found.paths)
            raise BadArguments(f"`bib` {shown(bib)} is not a bibliography of this document (those are: {names})")
        return wanted, False
    new = default.resolve() if default is not None else None
    if wanted != new:
        raise BadArguments(f"`bib` {shown(bib)} is not a bibliography of this document: it has none, and a new"
                           f" entry can go only to a new {NEW_FILE} next to it")
    if os.path.lexists(wanted):
        raise BadArguments(f"{wanted} exists but is not a .bib file the server can read: "
                           f"{bib_file_problem(wanted) or 'not a regular file'}")
    return wanted, True


async def _target(ls: GalacticaServer, path: Path, new: bool) -> Target:
    """The target's text: the editor's buffer when it holds the file, else the file (read only when safe)."""
    uri = from_fs_path(str(path))
    if new:
        return Target(path, uri, None, None)
    if uri in ls.workspace.text_documents:
        held = ls.document(uri)  # under the client's own spelling of the URI
        return Target(path, held.uri, held.text, held.version)
    text, problem = await asyncio.to_thread(read_bib_safely, path)
    if text is None:
        raise BadArguments(problem)
    return Target(path, uri, text, None)


async def add_entry(ls: GalacticaServer, doc: OpenDocument, a: AddEntryArguments) -> dict:
    """Send the edit that appends an entry to the chosen .bib and cites its key; nothing is written before.

    The entry is the record's own BibTeX when ``galactica.verify`` finds the paper (under the key the
    suggestion's stub would have had), else the unverified ``@misc`` stub.
    """
    library = await library_for(ls, doc)
    if a.key and library.index.has_key(a.key):
        raise BadArguments(f"`{a.key}` is already in your bibliography")
    path, new = _target_path(doc, library, a.bib)
    key = a.key or suggested_key(a.title, a.author)
    real = await real_entry(ls, a.title, a.author, unique_key(key, library.index.keys))
    target = await _target(ls, path, new)  # read after the check, which may take a while
    if real is not None and real.text is not None:
        stub = appended(target.text or "", real.text, key, library.index.keys)
    else:
        note = {"note": real.note} if real is not None and real.note else {}  # found, but no entry to be had
        stub = append_stub(target.text or "", a.title, a.author, library.index.keys, a.key, **note)
    at = LineIndex(target.text or "").position(stub.offset, ls.encoding)
    bib_edit = types.TextEdit(range=types.Range(at, at), new_text=stub.text)
    current = ls.document(doc.uri) or doc
    insertion = _citation_edit(ls, current, stub.key, a.position, a.range)
    label = f"Galactica: add {stub.key} to {path.name}"
    caps = ls.client_capabilities
    versioned = get_capability(caps, "workspace.workspace_edit.document_changes", False)
    can_create = versioned and types.ResourceOperationKind.Create in (
        get_capability(caps, "workspace.workspace_edit.resource_operations", None) or ())
    created = False
    if new and not can_create:  # the editor cannot create it: a new file, written once, never over another
        await asyncio.to_thread(_create, path, stub.text)
        created = True
    if versioned:
        changes: list = []
        if new and can_create:
            changes.append(types.CreateFile(uri=target.uri, options=types.CreateFileOptions(overwrite=False,
                                                                                           ignore_if_exists=False)))
        if not created:
            changes.append(_document_edit(target.uri, target.version, bib_edit))
        if insertion is not None:
            changes.append(_document_edit(current.uri, current.version, insertion))
        edit = types.WorkspaceEdit(document_changes=changes) if changes else None
    else:
        by_uri = {} if created else {target.uri: [bib_edit]}
        if insertion is not None:
            by_uri[current.uri] = [insertion]
        edit = types.WorkspaceEdit(changes=by_uri) if by_uri else None
    applied = await apply_edit(ls, edit, label) if edit is not None else True
    if not applied and not created:
        raise CommandFailed(f"the editor did not apply the edit: {target.path.name} is unchanged")
    state = libraries(ls)
    state.made_up.pop((doc.uri, stub.key), None)
    _refresh_all(ls)
    return {"key": stub.key, "bib": str(path), "applied": applied, "created": created,
            "cited": insertion is not None and applied, "entry": "record" if real and real.text else "stub",
            "verification": real.status if real is not None else None}


def _document_edit(uri: str, version: int | None, edit: types.TextEdit) -> types.TextDocumentEdit:
    return types.TextDocumentEdit(text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version),
                                  edits=[edit])


def _create(path: Path, text: str) -> None:
    """Write a new file; fails (FileExistsError) rather than touch one that exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise CommandFailed(f"{path} appeared meanwhile: nothing written") from None
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def _citation_edit(ls: GalacticaServer, doc: OpenDocument, key: str, position: types.Position | None,
                   span: types.Range | None) -> types.TextEdit | None:
    """The key cited in the document's syntax: at a position (the one rule, :mod:`placement`), or in place of a span."""
    if span is not None:
        style = citation_style(doc.text, doc.language)
        return types.TextEdit(range=span, new_text=cite(key, style) if style else key)
    if position is None:
        return None
    return citation_text_edit(ls, doc, doc.offset(position, ls.encoding), key, None)


def citation_text_edit(ls: GalacticaServer, doc: OpenDocument, offset: int, key: str,
                       reference: str | None, replacing: Collection[str] = ()) -> types.TextEdit | None:
    """The edit that cites ``key`` at ``offset`` in the syntax of the place; None when it is cited there already.

    A key of ``replacing`` (made up for a paper not in the library) at the cursor is replaced by ``key``.
    BadArguments where no citation can go (code, math, a preamble).
    """
    try:
        placed = citation_placement(doc.text, offset, doc.language, key, reference, replacing)
    except NoPlace as exc:
        raise BadArguments(str(exc)) from None
    if placed is None:
        return None
    return types.TextEdit(range=doc.range(placed.start, placed.end, ls.encoding), new_text=placed.new_text)


def menu_place(text: str, offset: int, language: str, start: int = 0) -> tuple | None:
    """Where a citation menu is, as the stub quick fixes for its suggestions remember it: the citation's start, the
    keys it holds and what is typed of the next; once the place is cited (a key added), it is another place.
    ``start``: the offset of ``text`` in the document (a window of it)."""
    trigger = citation_trigger_at(text, offset, language)
    listed = open_list_at(text, offset, language)
    if trigger is None or listed is None:
        return None
    return (start + trigger.context_end, listed.cited, listed.typed)


def remember(ls: GalacticaServer, uri: str, shown: list[tuple[Suggestion, LibraryMatch | None, str | None]],
             place: tuple | None = None) -> None:
    """The menu's suggestions for a document, at ``place`` (:func:`menu_place`), and which made-up key each
    unmatched one inserts."""
    state = libraries(ls)
    state.suggestions[uri] = [s for s, match, _ in shown if match is None]
    state.places[uri] = place
    for suggestion, match, key in shown:
        if match is None and key:
            state.made_up[(uri, key)] = suggestion
    if len(state.made_up) > 1000:  # a long session: keep the newest
        state.made_up = dict(list(state.made_up.items())[-500:])


async def reference_citer(ls: GalacticaServer, doc: OpenDocument) -> Callable[[str], str | None]:
    """What a reference the model wrote (``Title, Author``) becomes in this document's text: a citation in its
    syntax, under the library's key when it matches, else a key made from it; None in plain text (no syntax)."""
    style = citation_style(doc.text, doc.language)
    try:
        library = await library_for(ls, doc) if style else None
    except Exception as exc:
        log.warning("bibliography for %s: %s", doc.uri, exc)
        library = None
    threshold = ls.settings.bib_match_threshold

    def citer(text: str) -> str | None:
        if style is None:
            return None
        reference = Reference(text)
        match = library.index.match(reference.title, reference.author, threshold) if library else None
        return cite(match.key if match else made_up_key(library, reference), style)

    return citer


def made_up_key(library: DocumentLibrary | None, reference: Reference) -> str:
    """The key an unmatched suggestion gets: made from it, unused in the library (when there is one)."""
    taken = library.index.keys if library is not None else ()
    return unique_key(suggested_key(reference.title, reference.author), taken)


# -- the feature's parts -------------------------------------------------------------------------


def opened(ls: GalacticaServer, uri: str) -> None:
    state = libraries(ls)
    if not state.watching:
        state.watching = True
        ls.run_task(_watch(ls), "watch .bib files")
    _changed(ls, uri, delay=0)


def changed(ls: GalacticaServer, uri: str) -> None:
    _changed(ls, uri)


def saved(ls: GalacticaServer, uri: str) -> None:
    _changed(ls, uri, delay=0)


def closed(ls: GalacticaServer, uri: str) -> None:
    """A document closed: drop what was kept for it and clear its diagnostics."""
    if _is_bibliography(uri):
        return
    state = libraries(ls)
    state.suggestions.pop(uri, None)
    state.places.pop(uri, None)
    state.made_up = {k: v for k, v in state.made_up.items() if k[0] != uri}
    pending = state.debounce.pop(uri, None)
    if pending is not None:
        pending.cancel()
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


def settings_changed(ls: GalacticaServer, previous: Settings) -> None:
    if ls.settings.bibliography != previous.bibliography or ls.settings.bib_match_threshold != previous.bib_match_threshold:
        ls.run_task(check_setting(ls), "check galactica.bibliography")
        _refresh_all(ls)


def is_bibliography_change(ls: GalacticaServer, uri: str) -> bool:
    """Whether a watched file's change matters: any ``.bib`` (a new one may be found next to a document), or a
    CSL-JSON/YAML file of a name a document cites from (read, or named and not there yet; not every
    ``package.json``)."""
    if uri.endswith(".bib"):
        return True
    path = document_path(uri)
    return path is not None and _is_bibliography(uri) and path.name in libraries(ls).named


def _is_bibliography(uri: str) -> bool:
    return uri.endswith(BIB_SUFFIXES)


def _changed(ls: GalacticaServer, uri: str, delay: float = DEBOUNCE_S) -> None:
    """A document or a bibliography open in the editor changed: re-check what depends on it."""
    if _is_bibliography(uri):
        _refresh_all(ls)
    else:
        schedule_refresh(ls, uri, delay)


def register(server: GalacticaServer) -> None:
    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(ls: GalacticaServer, params: types.DidChangeWatchedFilesParams) -> None:
        if any(is_bibliography_change(ls, change.uri) for change in params.changes):
            _refresh_all(ls)

    @command(server, ADD_ENTRY)
    async def add_entry_command(ls: GalacticaServer, a: AddEntryArguments):
        """Add a stub entry for a suggestion (see :class:`AddEntryArguments`); every argument is checked first."""
        return await add_entry(ls, open_document(ls, a.uri), a)


FEATURE = Feature("bibliography", register=register, opened=opened, changed=changed, saved=saved, closed=closed,
                  settings_changed=settings_changed, code_actions=code_actions)
