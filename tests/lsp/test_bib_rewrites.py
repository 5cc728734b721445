"""Bibliography files rewritten on disk are read again: a Better BibTeX export within the same second at the same
size, and CSL-JSON/YAML files (pandoc's ``bibliography: refs.json``) as well as ``.bib``."""

from __future__ import annotations

import os

import pytest
from lsprotocol import types

from galactica_lsp.server.bibliography import WATCHED

from .conftest import doc_uri, open_document
from .test_bibliography import wait_for

FORMATS = {
    # name: (the library before, the same library rewritten with the cited key: same size)
    "refs.bib": ("@misc{early2024, title = {Early}}\n", "@misc{later2024, title = {Later}}\n"),
    "refs.json": ('[{"id": "early2024", "type": "book", "title": "Early"}]\n',
                  '[{"id": "later2024", "type": "book", "title": "Later"}]\n'),
    "refs.yaml": ("- id: early2024\n  type: book\n  title: Early\n", "- id: later2024\n  type: book\n  title: Later\n"),
}


def rewrite_within_the_same_tick(path, text: str) -> None:
    """Write new content of the same size and put the old modification time back, as a file system with a coarse
    clock shows a rewrite within one tick (Better BibTeX exports on every change in Zotero)."""
    before = os.stat(path)
    path.write_text(text)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def unknown_keys(client, uri: str) -> list[str]:
    return [d.data["key"] for d in client.diagnostics.get(uri, []) if d.code == "unknown-key"]


@pytest.mark.parametrize("name", list(FORMATS))
async def test_a_bibliography_rewritten_at_the_same_size_and_time_is_read_again(client, name):
    before, after = FORMATS[name]
    assert len(before) == len(after)
    bib = client.folder / name
    bib.write_text(before)
    if name.endswith(".bib"):
        uri, text, language = doc_uri(client, "paper.tex"), "As shown \\cite{later2024}.\n\\bibliography{refs}\n", "latex"
    else:
        uri, text, language = doc_uri(client, "notes.md"), f"---\nbibliography: {name}\n---\n\nAs shown [@later2024].\n", "markdown"
    open_document(client, uri, text, language)
    await wait_for(lambda: unknown_keys(client, uri) == ["later2024"])

    rewrite_within_the_same_tick(bib, after)
    client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[
        types.FileEvent(uri=bib.as_uri(), type=types.FileChangeType.Changed)]))
    await wait_for(lambda: uri in client.diagnostics and not client.diagnostics[uri])


async def test_csl_bibliographies_are_watched_like_bib_files(client):
    uri = doc_uri(client, "watched.md")
    open_document(client, uri, "Text [@a].\n", "markdown")  # the first document opened asks for the watching
    watching = client.capabilities.workspace.did_change_watched_files
    if not (watching and watching.dynamic_registration):
        pytest.skip("this client does not register file watchers dynamically")
    registration = await wait_for(lambda: [r for r in client.registrations
                                           if r.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES])
    (watchers,) = [r.register_options.watchers if hasattr(r.register_options, "watchers")
                   else r.register_options["watchers"] for r in registration]
    patterns = [w.glob_pattern if hasattr(w, "glob_pattern") else w["globPattern"] for w in watchers]
    assert patterns == [WATCHED] == ["**/*.{bib,json,yaml,yml}"]
