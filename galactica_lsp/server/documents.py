"""The open documents: stored under one normalised URI, changed exactly as the client changed them.

Owns: :func:`normalise_uri`, the one function every lookup goes through
(``didOpen``/``didChange``/``didClose``, every request, every command's ``uri``
argument), so ``file:///a/my%20paper.tex`` (VS Code), ``file:///a/my paper.tex``
(unescaped, as some clients and hand-written requests send), ``%c3%a9`` and
``%C3%A9`` and ``é``, ``file:///C%3A/x`` and ``file:///c:/x`` are one document;
:class:`Documents`, pygls's ``Workspace`` keyed by that function, whose documents
keep the URI the client opened them with (edits sent back through
``workspace/applyEdit`` and diagnostics use the client's own form); incremental
``didChange`` (:func:`splice`) with LSP's line breaks only (``\\n``, ``\\r\\n``,
``\\r``: never ``\\f``, ``\\v``, U+2028, U+0085 … which ``str.splitlines`` also
splits at), positions past a line's end clamped to that line's end (never
eating its line break) and past the last line to the end of the text; and
each document's line index, built once per text (a change drops it: no key
on version or length that a stale edit could match).

pygls's ``Workspace`` stores documents under ``urllib.parse.unquote(uri)``
and its ``TextDocument`` applies edits over ``splitlines()`` lines; both are
replaced here, at the workspace the protocol installs (``protocol.py``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from urllib.parse import unquote

from lsprotocol import types
from pygls.workspace import TextDocument, Workspace

from .positions import LineIndex, encoding_name

log = logging.getLogger(__name__)

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):(.*)$", re.DOTALL)
_DRIVE = re.compile(r"^/([A-Za-z]):")


def normalise_uri(uri: str) -> str:
    """The key a document is stored and looked up under: equal for every way a client may spell one URI.

    Percent escapes are decoded (either case of hex digit), the scheme is lower-cased,
    ``file://localhost/`` is ``file:///``, the host is lower-cased, and a Windows drive
    letter is lower-case with its colon decoded. The key is never sent to a client.
    """
    match = _SCHEME.match(uri)
    if match is None:
        return unquote(uri)
    scheme, rest = match.group(1).lower(), unquote(match.group(2))
    if scheme != "file":
        return f"{scheme}:{rest}"
    host, path = "", rest
    if rest.startswith("//"):
        slash = rest.find("/", 2)
        host, path = (rest[2:], "") if slash == -1 else (rest[2:slash], rest[slash:])
        host = "" if host.lower() == "localhost" else host.lower()
    if not path.startswith("/"):
        path = "/" + path
    path = _DRIVE.sub(lambda m: f"/{m.group(1).lower()}:", path)
    return f"file://{host}{path}"


def splice(text: str, index: LineIndex, change_range: types.Range, new_text: str, encoding: str) -> str:
    """The text after replacing ``change_range`` (positions in ``encoding``) with ``new_text``.

    Positions are clamped as :meth:`LineIndex.offset` does; an end before the start
    is read as the same range the other way round.
    """
    start = index.offset(change_range.start, encoding)
    end = index.offset(change_range.end, encoding)
    if end < start:
        start, end = end, start
    return text[:start] + new_text + text[end:]


class SyncedDocument(TextDocument):
    """A pygls text document whose edits and lines follow the protocol, with its line index."""

    def __init__(self, *args, encoding: str = "utf-16", **kwargs):
        super().__init__(*args, **kwargs)
        self.encoding = encoding
        self._index: LineIndex | None = None
        self.changes = 0  # edits applied since the document was opened

    @property
    def index(self) -> LineIndex:
        """The line index of the current text (built on first use after each change)."""
        text = self.source
        if self._index is None or self._index.text is not text:
            self._index = LineIndex(text)
        return self._index

    def apply_change(self, change: types.TextDocumentContentChangeEvent) -> None:
        super().apply_change(change)
        self.changes += 1
        self._index = None

    def _apply_incremental_change(self, change: types.TextDocumentContentChangePartial) -> None:
        self._source = splice(self.source, self.index, change.range, change.text, self.encoding)

    @property
    def lines(self) -> tuple[str, ...]:
        """The lines with their breaks, split where LSP splits (for pygls's own position helpers)."""
        index = self.index
        bounds = [*index.starts, len(index.text)]
        lines = tuple(index.text[a:b] for a, b in zip(bounds, bounds[1:]))
        return lines if lines and lines[-1] else lines[:-1]


class DocumentTable(MutableMapping):
    """Documents by :func:`normalise_uri` of any spelling; iterating gives the URIs the client opened them with."""

    def __init__(self) -> None:
        self._by_key: dict[str, TextDocument] = {}

    def __getitem__(self, uri: str) -> TextDocument:
        return self._by_key[normalise_uri(uri)]

    def __setitem__(self, uri: str, document: TextDocument) -> None:
        self._by_key[normalise_uri(uri)] = document

    def __delitem__(self, uri: str) -> None:
        del self._by_key[normalise_uri(uri)]

    def __contains__(self, uri: object) -> bool:
        return isinstance(uri, str) and normalise_uri(uri) in self._by_key

    def __iter__(self) -> Iterator[str]:
        return iter([document.uri for document in self._by_key.values()])

    def __len__(self) -> int:
        return len(self._by_key)


class Documents(Workspace):
    """pygls's workspace, with documents under :func:`normalise_uri` and edits applied by :func:`splice`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._text_documents = DocumentTable()
        self.encoding = encoding_name(self.position_encoding)

    @classmethod
    def replacing(cls, workspace: Workspace) -> Documents:
        """The same workspace (root, folders, sync kind, encoding) with this class's documents."""
        return cls(workspace.root_uri, workspace._sync_kind, list(workspace.folders.values()),
                   workspace.position_encoding)

    def find(self, uri: str) -> SyncedDocument | None:
        """The open document for any spelling of its URI, or None."""
        return self._text_documents.get(uri)

    def _create_text_document(self, doc_uri, source=None, version=None, language_id=None) -> SyncedDocument:
        return SyncedDocument(doc_uri, source=source, version=version, language_id=language_id,
                              sync_kind=self._sync_kind, position_codec=self.position_codec, encoding=self.encoding)

    def get_text_document(self, doc_uri: str) -> TextDocument:
        return self.find(doc_uri) or self._create_text_document(doc_uri)

    def put_text_document(self, text_document: types.TextDocumentItem, notebook_uri: str | None = None) -> None:
        uri = text_document.uri
        self._text_documents[uri] = self._create_text_document(
            uri, source=text_document.text, version=text_document.version, language_id=text_document.language_id
        )
        if notebook_uri:
            self._cell_in_notebook[normalise_uri(uri)] = unquote(notebook_uri)

    def remove_text_document(self, doc_uri: str) -> None:
        self._text_documents.pop(doc_uri, None)
        self._cell_in_notebook.pop(normalise_uri(doc_uri), None)

    def update_text_document(self, text_doc: types.VersionedTextDocumentIdentifier,
                             change: types.TextDocumentContentChangeEvent) -> None:
        document = self.find(text_doc.uri)
        if document is None:
            log.warning("didChange for %s, which is not open: ignored", text_doc.uri)
            return
        document.apply_change(change)
        document.version = text_doc.version


@dataclass
class OpenDocument:
    """What a feature reads of an open document: its text now, under the URI the client opened it with."""

    uri: str
    text: str
    language: str
    version: int | None
    index: LineIndex

    def offset(self, position: types.Position, encoding: str) -> int:
        return self.index.offset(position, encoding)

    def position(self, offset: int, encoding: str) -> types.Position:
        return self.index.position(offset, encoding)

    def range(self, start: int, end: int, encoding: str) -> types.Range:
        return types.Range(self.position(start, encoding), self.position(end, encoding))

