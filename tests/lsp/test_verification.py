"""Suggested references checked in the editor, end to end: the real server on the tiny model, the sources
a local HTTP server that serves recorded real answers (``tests/verify/recorded``, sources in its README)
or the failures, and logs every request it got.

The menu answers at once (its items read *checking …*); ``completionItem/resolve`` brings the check;
``galactica.suggestCitations`` carries it; *Add BibTeX entry* writes a found record's own entry and keeps
the rest of the ``.bib`` byte for byte. Only the suggestion's title and surname reach the sources.
"""

from __future__ import annotations

import ast
import asyncio
import socket
import urllib.parse
import uuid

import pytest
from lsprotocol import types

from galactica_lsp.bibliography.parse import parse_bibliography
from galactica_lsp.bibliography.stub import NOTE
from galactica_lsp.verify.bibtex import arxiv_entry
from galactica_lsp.verify.sources import parse_arxiv
from verify.conftest import LocalServer, recorded  # the recorded-answer server of tests/verify

from .conftest import LOAD_TIMEOUT, OPTIONS, open_document

BOETTIGER = "crossref/works_query_ecology_author_boettiger.json"  # a real /works answer with no tiny-model paper
ARXIV_TESTING = "arxiv/query_testing_100.xml"  # a real arXiv feed of 100 papers
SCRATCH = "Model-based Testing of Scratch Programs, Götz"  # one of them: no DOI, so its entry is arXiv's
CHECK = "\n\n**Check:** "
# A user's library in CRLF with non-ASCII text and no final line break: kept byte for byte.
LIBRARY = ("% my library\r\n@book{knuth1984,\r\n  title = {The {\\TeX}book},\r\n"
           "  author = {Knuth, Donald E. and Müller, Jürgen},\r\n  year = {1984}\r\n}")


class Records:
    """The local server under a path of this test's own (so no cached answer of another test can match)."""

    def __init__(self, server: LocalServer):
        self.server = server
        self.prefix = f"/{uuid.uuid4().hex}"
        self.base = server.url + self.prefix

    def serve(self, path: str, body: bytes = b"", **options) -> None:
        self.server.serve(self.prefix + path, body, **options)

    def requests(self, path: str = "") -> list:
        return [r for r in self.server.requests if r.path.startswith(self.prefix + path)]


@pytest.fixture
def records():
    server = LocalServer()
    yield Records(server)
    server.close()


@pytest.fixture
def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: connections are refused."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


def push(client, **settings) -> None:
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"galactica": {**OPTIONS, **settings}}))


async def complete(client, uri: str, text: str, language: str, cursor: int) -> list[types.CompletionItem]:
    open_document(client, uri, text, language)
    line = text[:cursor].count("\n")
    character = len(text[:cursor].rsplit("\n", 1)[-1].encode("utf-16-le")) // 2
    result = await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line, character)))
    return result.items


async def resolved(client, item: types.CompletionItem) -> types.CompletionItem:
    """Resolve until the check has an answer (each resolve answers within a moment: what is known then)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LOAD_TIMEOUT  # a hang guard only
    while loop.time() < deadline:
        answer = await client.completion_item_resolve_async(item)
        if "checking" not in answer.detail:
            return answer
        await asyncio.sleep(0.05)
    raise AssertionError(f"still checking: {answer.detail}")


async def wait_for(condition):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LOAD_TIMEOUT  # a hang guard only
    while loop.time() < deadline:
        value = await condition()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("timed out waiting")


def check_line(item: types.CompletionItem) -> str:
    return item.documentation.value.split(CHECK, 1)[1]


def edits_for(edit: types.WorkspaceEdit, uri: str) -> list[types.TextEdit]:
    if edit.document_changes is not None:
        return [e for change in edit.document_changes if isinstance(change, types.TextDocumentEdit)
                and change.text_document.uri == uri for e in change.edits]
    return list((edit.changes or {}).get(uri, []))


async def add_actions(client, uri: str, at: types.Range, diagnostics=()) -> list[tuple[str, types.Command]]:
    """(title, command) of each "Add BibTeX entry" action."""
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=at,
        context=types.CodeActionContext(diagnostics=list(diagnostics), trigger_kind=types.CodeActionTriggerKind.Invoked)))
    out = []
    for action in actions:
        command = action.command if isinstance(action, types.CodeAction) else action
        if command is not None and command.command.startswith("{"):  # the test client may read one as a Command
            raw = ast.literal_eval(command.command)
            command = types.Command(title=raw["title"], command=raw["command"], arguments=raw.get("arguments"))
        if isinstance(command, types.Command) and command.command == "galactica.addBibEntry":
            out.append((action.title, command))
    return out


def sent_titles_and_surnames(requests) -> list[dict]:
    return [{k: v for k, v in r.query.items()} for r in requests]


LATEX = "Large language models \\cite{\n\n\\bibliography{library}\n"


async def test_the_menu_answers_at_once_and_resolve_brings_the_check(client, records, tmp_path):
    records.serve("/works", recorded(BOETTIGER))
    push(client, verify=["crossref"], verifyEndpoints={"crossref": records.base})
    (tmp_path / "library.bib").write_bytes(LIBRARY.encode("utf-8"))
    uri = (tmp_path / "menu.tex").as_uri()
    menu = await complete(client, uri, LATEX, "latex", LATEX.index("{") + 1)
    # Galactica's suggestions first ("000", …), then the user's own entries ("1…"): those are never checked.
    items = [item for item in menu if item.sort_text.startswith("0")]
    own = [item for item in menu if not item.sort_text.startswith("0")]
    assert own and all(item.data is None for item in own)
    for item in own:
        assert await resolved(client, item) == item  # comes back as it is
    assert len(items) >= 2
    for item in items:  # none of them in the library: each is checked, none waited for
        assert sorted(item.data) == ["author", "detail", "galactica", "title"] and item.data["galactica"] == "citation"
        assert item.label == f"{item.data['title']}, {item.data['author']}"
        assert item.data["detail"].startswith("not in your library · ")
        assert item.detail == item.data["detail"] + " · checking Crossref…"
        assert check_line(item) == "checking Crossref…."

    for item in items:
        answer = await resolved(client, item)
        assert answer.detail == item.data["detail"] + " · not found in Crossref"
        assert check_line(answer) == "not found in Crossref, which is not proof it is invented."
        assert answer.label == item.label and answer.text_edit == item.text_edit  # only the words change

    # Only each suggestion's title and first author's surname went out; nothing of the document.
    sent = sent_titles_and_surnames(records.requests())
    assert sorted(q["query.bibliographic"][0] for q in sent) == sorted(i.data["title"] for i in items)
    for query in sent:
        assert set(query) <= {"query.bibliographic", "query.author", "rows", "mailto"}
        assert query["query.author"] in [[i.data["author"].lower()] for i in items] and query["rows"] == ["5"]
    assert not any("Large language" in urllib.parse.unquote(r.path) or "library" in str(r.query)
                   for r in records.requests())


async def test_an_unverified_suggestion_keeps_the_stub_with_its_note(client, records, tmp_path):
    records.serve("/works", recorded(BOETTIGER))
    push(client, verify=["crossref"], verifyEndpoints={"crossref": records.base})
    (tmp_path / "library.bib").write_bytes(LIBRARY.encode("utf-8"))
    uri = (tmp_path / "stub.tex").as_uri()
    cursor = LATEX.index("{") + 1
    items = await complete(client, uri, LATEX, "latex", cursor)
    await resolved(client, items[0])
    at = types.Position(0, cursor)
    adds = await add_actions(client, uri, types.Range(at, at))
    (title, command), *_ = [a for a in adds if items[0].label in a[0]]
    assert title.endswith(" and cite it (unverified)")
    answer = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command=command.command, arguments=command.arguments))
    assert answer["entry"] == "stub"
    assert answer["verification"] == "not found in Crossref, which is not proof it is invented"
    (bib_edit,) = edits_for(client.applied_edits[-1], (tmp_path / "library.bib").as_uri())
    assert bib_edit.new_text.startswith(f"\r\n\r\n@misc{{{answer['key']},\r\n")
    assert f"note = {{{NOTE}}}" in bib_edit.new_text


FAILURES = [
    # (what the source does, the item's detail after the check, what its documentation says)
    ("429", "not checked (Crossref: rate limited)", "Crossref: rate limited"),  # by the 429, or its Retry-After
    ("503", "not checked (Crossref: server error)", "Crossref: server error (HTTP 503)"),
    ("malformed", "not checked (Crossref: malformed answer)", "Crossref: malformed answer: not JSON"),
    ("timeout", "not checked (Crossref: timed out)", "Crossref: timed out after 1 s"),
    ("refused", "not checked (Crossref: connection refused)", "Crossref: connection refused"),
]


@pytest.mark.parametrize("failure,detail,said", FAILURES, ids=[f[0] for f in FAILURES])
async def test_each_failure_gets_a_clear_status_and_the_server_carries_on(client, records, closed_port_url,
                                                                           tmp_path, failure, detail, said):
    base = records.base
    if failure == "429":
        records.serve("/works", b'{"status": "failed", "message": "slow down"}', status=429,
                      headers={"Retry-After": "120"})
    elif failure == "503":
        records.serve("/works", b"<html>Service Unavailable</html>", status=503, content_type="text/html")
    elif failure == "malformed":
        records.serve("/works", recorded(BOETTIGER)[:500])  # an answer cut short
    elif failure == "timeout":
        records.serve("/works", recorded(BOETTIGER), delay=60.0)  # released when the test ends
    else:
        base = closed_port_url
    push(client, verify=["crossref"], verifyEndpoints={"crossref": base}, verifyTimeout=1)
    text = "The Transformer architecture \\cite{"
    items = await complete(client, (tmp_path / f"{failure}.tex").as_uri(), text, "latex", len(text))
    assert items[0].detail.endswith(" · checking Crossref…")
    answer = await resolved(client, items[0])
    assert answer.detail == items[0].data["detail"] + " · " + detail
    assert check_line(answer).startswith(f"not checked ({said}")
    # The server is still there and answers at once.
    status = await client.workspace_execute_command_async(types.ExecuteCommandParams(command="galactica.status"))
    assert status["state"] == "ready"


async def test_off_by_default_nothing_is_sent_and_the_item_says_so(client, records, tmp_path):
    push(client, verify=[], verifyEndpoints={"crossref": records.base})
    text = "The Transformer architecture \\cite{"
    items = await complete(client, (tmp_path / "off.tex").as_uri(), text, "latex", len(text))
    item = items[0]
    assert item.detail == item.data["detail"] and item.detail.endswith("% sure")  # no check in the detail
    assert check_line(item).startswith("not checked (verification is off: `galactica.verify` names no source")
    answer = await client.completion_item_resolve_async(item)
    assert answer.detail == item.detail and answer.documentation == item.documentation
    assert records.requests() == []


async def test_resolve_of_a_found_paper_reads_its_identifier_year_and_venue(client, records):
    """A menu item as the server makes them, for a paper of the recorded arXiv feed (the tiny model knows none)."""
    records.serve("/api/query", recorded(ARXIV_TESTING), content_type="application/atom+xml")
    push(client, verify=["arxiv"], verifyEndpoints={"arxiv": records.base})
    title, author = SCRATCH.rsplit(", ", 1)
    item = types.CompletionItem(label=SCRATCH, detail="not in your library · 91% sure",
                                data={"galactica": "citation", "title": title, "author": author,
                                      "detail": "not in your library · 91% sure"})
    answer = await resolved(client, item)
    assert answer.detail == "not in your library · 91% sure · found: arXiv 2202.06271, 2022"
    assert check_line(answer) == ("found: arXiv 2202.06271, 2022. *Add BibTeX entry* writes this record's own entry.")
    (request,) = records.requests()
    assert request.query == {"search_query": ['ti:"model based testing of scratch programs" AND au:gotz'],
                             "max_results": ["5"]}


async def test_add_entry_for_a_found_reference_writes_its_real_entry_and_keeps_the_rest(client, records, tmp_path):
    records.serve("/api/query", recorded(ARXIV_TESTING), content_type="application/atom+xml")
    push(client, verify=["arxiv"], verifyEndpoints={"arxiv": records.base})
    bib = tmp_path / "library.bib"
    bib.write_bytes(LIBRARY.encode("utf-8"))
    before = bib.read_bytes()
    text = f"Testing them is hard [START_REF] {SCRATCH}[END_REF].\n"
    uri = (tmp_path / "found.md").as_uri()
    open_document(client, uri, text, "markdown")

    async def hint():
        return [d for d in client.diagnostics.get(uri, []) if d.code == "galactica-reference"]

    (diagnostic,) = await wait_for(hint)

    async def found_action():  # the action's title says so once the check is back
        return [command for title, command in await add_actions(client, uri, diagnostic.range, [diagnostic])
                if title.endswith("(found: arXiv 2202.06271)")]

    (command,) = await wait_for(found_action)
    answer = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command=command.command, arguments=command.arguments))
    assert answer["entry"] == "record" and answer["key"] == "gotz:modelbased" and answer["cited"]
    assert answer["verification"] == "found: arXiv 2202.06271, 2022"
    assert bib.read_bytes() == before  # the server wrote nothing: the editor applies the edit

    (bib_edit,) = edits_for(client.applied_edits[-1], bib.as_uri())
    lines = LIBRARY.split("\r\n")
    end = types.Position(len(lines) - 1, len(lines[-1].encode("utf-16-le")) // 2)
    assert bib_edit.range == types.Range(end, end)
    (paper,) = [r for r in parse_arxiv(recorded(ARXIV_TESTING)) if r.arxiv_id == "2202.06271"]
    assert bib_edit.new_text == "\r\n\r\n" + arxiv_entry(paper, "gotz:modelbased").replace("\n", "\r\n")
    after = (LIBRARY + bib_edit.new_text).encode("utf-8")  # as the editor applies it
    assert after[:len(before)] == before  # every byte before the entry as it was
    entries = {e.key: e for e in parse_bibliography(after.decode("utf-8"), bib).entries}
    assert sorted(entries) == ["gotz:modelbased", "knuth1984"]
    added = entries["gotz:modelbased"]
    assert (added.title, added.year, added.surnames[0]) == ("Model-based Testing of Scratch Programs", "2022", "Götz")
    assert entries["knuth1984"].surnames == ("Knuth", "Müller")
    (cite,) = edits_for(client.applied_edits[-1], uri)
    assert cite.new_text == "[@gotz:modelbased]" and cite.range == diagnostic.range


async def test_a_found_record_whose_bibtex_cannot_be_had_gets_a_stub_that_says_so(client, records, tmp_path):
    dblp_paper = "Test data regeneration: generating new test data from existing test data, Shin Yoo"
    records.serve("/search/publ/api", recorded("dblp/publ_query_test_star.json"))
    # Crossref's recorded answer for a DOI it does not know (the DOI's entry is not recorded).
    records.serve("/works/10.1002%2FSTVR.435/transform/application/x-bibtex",
                  recorded("crossref/works_notarealdoi_404.txt"), status=404, content_type="text/plain")
    push(client, verify=["dblp"], verifyEndpoints={"dblp": records.base, "crossref": records.base})
    (tmp_path / "library.bib").write_bytes(LIBRARY.encode("utf-8"))
    uri = (tmp_path / "nobib.md").as_uri()
    open_document(client, uri, "See this.\n", "markdown")
    title, author = dblp_paper.rsplit(", ", 1)
    answer = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="galactica.addBibEntry", arguments=[{"uri": uri, "title": title, "author": author}]))
    assert answer["entry"] == "stub"
    assert answer["verification"] == (
        "found: DOI 10.1002/STVR.435, 2012, Softw. Test., Verif. Reliab.; its BibTeX could not be fetched"
        " (Crossref: no entry for DOI 10.1002/STVR.435 (HTTP 404))")
    (bib_edit,) = edits_for(client.applied_edits[-1], (tmp_path / "library.bib").as_uri())
    assert "note = {suggested by Galactica; found in DBLP: DOI 10.1002/STVR.435; its BibTeX could not be fetched}" \
        in bib_edit.new_text
    assert [r.path.removeprefix(records.prefix) for r in records.requests()] == [
        "/search/publ/api", "/works/10.1002%2FSTVR.435/transform/application/x-bibtex"]


async def test_suggest_citations_carries_each_check(client, records, tmp_path):
    records.serve("/works", recorded(BOETTIGER))
    push(client, verify=["crossref"], verifyEndpoints={"crossref": records.base})
    text = "The Transformer architecture"
    uri = (tmp_path / "command.tex").as_uri()
    open_document(client, uri, text, "latex")

    async def checked():
        result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
            command="galactica.suggestCitations", arguments=[{"uri": uri, "position": {"line": 0, "character": len(text)}}]))
        first = result["suggestions"][0]
        return first if first["verification"]["state"] != "checking" else None

    first = await wait_for(checked)
    assert first["text"] == "Attention is All you Need, Vaswani" and not first["inLibrary"]
    assert first["verification"] == {"state": "notFound", "summary": "not found in Crossref", "record": None,
                                     "text": "not found in Crossref, which is not proof it is invented"}
