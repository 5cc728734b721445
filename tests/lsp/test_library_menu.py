"""At a citation the menu also lists the user's own library: every entry, filterable by key, title, first author and
year, after Galactica's suggestions, inserting its key by the one citation rule; there without a model, and never
waiting on it while the user types a key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from galactica_lsp.server.library_menu import LIMIT, SORT_AFTER_GALACTICA

from .conftest import CONFIG, doc_uri, open_document, server_status, start_session
from .test_bibliography import galactica_items, position_at

FIXTURE = Path(__file__).parent.parent / "bibliography" / "fixtures" / "library.bib"
# The fixture's entries in its order (broken2019 is malformed, so not an entry).
ENTRIES = {
    "vaswani2017attention": ("Attention Is All You Need", "Vaswani", "2017"),
    "brown2020language": ("Language Models are Few-Shot Learners", "Brown", "2020"),
    "touvron2023llama": ("LLaMA: Open and Efficient Foundation Language Models", "Touvron", "2023"),
    "muller2021": ("Über die Quantenmechanik der Katzen", "Müller", "2021"),
    "hochreiter1997": ("Long Short-Term Memory", "Hochreiter", "1997"),
}


def library_items(items):
    return [item for item in items if item.sort_text.startswith(SORT_AFTER_GALACTICA)]


async def menu(client, uri: str, text: str, language: str, cursor: int | None = None, filtering: bool = False):
    open_document(client, uri, text, language)
    context = types.CompletionContext(
        trigger_kind=types.CompletionTriggerKind.TriggerForIncompleteCompletions if filtering
        else types.CompletionTriggerKind.Invoked)
    return await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=position_at(text, len(text) if cursor is None else cursor), context=context))


def with_library(client) -> None:
    shutil.copy(FIXTURE, client.folder / "library.bib")


async def test_every_entry_follows_galactica_with_key_title_author_and_year(client):
    with_library(client)
    text = "The Transformer architecture \\cite{}\n\n\\bibliography{library}\n"
    cursor = text.index("{") + 1
    result = await menu(client, doc_uri(client, "paper.tex"), text, "latex", cursor)
    assert result.is_incomplete
    galactica, own = galactica_items(result.items), library_items(result.items)
    assert galactica and list(result.items[: len(galactica)]) == galactica  # Galactica's suggestions first
    assert [item.label for item in own] == list(ENTRIES)
    assert sorted(item.sort_text for item in result.items) == [item.sort_text for item in result.items]
    at = position_at(text, cursor)
    for item in own:
        title, author, year = ENTRIES[item.label]
        assert item.filter_text == f"{item.label} {author} {year} {title}"
        assert item.text_edit == types.TextEdit(range=types.Range(at, at), new_text=item.label)
        assert item.detail == f"your library (library.bib) · {author}, {year}"
        assert item.kind == types.CompletionItemKind.Reference
        assert "made up" not in item.detail.lower() and "made up" not in item.documentation.value.lower()
    vaswani = own[0]
    assert vaswani.documentation.value == ("**Attention Is All You Need**\n\nVaswani, Shazeer, Parmar, 2017."
                                           " *Advances in Neural Information Processing Systems*.\n\n"
                                           "`vaswani2017attention` in library.bib, line 4.")
    if vaswani.label_details is not None:  # a client that shows them (VS Code)
        assert vaswani.label_details == types.CompletionItemLabelDetails(detail=" Vaswani, 2017",
                                                                         description="Attention Is All You Need")


@pytest.mark.parametrize("language,text,inserted", [
    ("markdown", "---\nbibliography: library.bib\n---\n\nTransformers [@", "hochreiter1997"),
    ("markdown", "---\nbibliography: library.bib\n---\n\nTransformers {cite}`", "hochreiter1997"),
    ("markdown", "---\nbibliography: library.bib\n---\n\nTransformers :cite:`a,", "hochreiter1997"),
    ("markdown", "---\nbibliography: library.bib\n---\n\nTransformers [@|; @vaswani2017attention]", "hochreiter1997"),
    ("latex", "Transformers \\cite{|vaswani2017attention}\n\\bibliography{library}\n", "hochreiter1997,"),
], ids=["pandoc", "myst", "rst", "pandoc-before-a-key", "latex-before-a-key"])
async def test_each_place_gets_the_key_in_its_syntax_and_a_key_the_list_holds_is_left_out(client, language, text,
                                                                                         inserted):
    with_library(client)
    cursor = text.index("|") if "|" in text else len(text)
    text = text.replace("|", "")
    result = await menu(client, doc_uri(client, "place." + ("tex" if language == "latex" else "md")), text, language,
                        cursor)
    own = {item.label: item for item in library_items(result.items)}
    assert own["hochreiter1997"].text_edit.new_text == inserted
    assert ("vaswani2017attention" in own) == ("vaswani2017attention" not in text)  # never cited twice


async def test_what_was_typed_filters_the_library_and_is_replaced_by_the_key(client):
    with_library(client)
    text = "Memory \\cite{hoch}\n\\bibliography{library}\n"
    cursor = text.index("}")
    result = await menu(client, doc_uri(client, "typed.tex"), text, "latex", cursor)
    (item,) = library_items(result.items)
    start = position_at(text, text.index("hoch"))
    assert item.text_edit == types.TextEdit(range=types.Range(start, position_at(text, cursor)),
                                            new_text="hochreiter1997")
    # By the first author, a title word, the year: the server's search, which the editor's filter then narrows.
    for typed, found in (("Touvron", "touvron2023llama"), ("Efficient", "touvron2023llama"), ("2021", "muller2021")):
        text = f"See \\cite{{{typed}}}\n\\bibliography{{library}}\n"
        result = await menu(client, doc_uri(client, f"by-{typed}.tex"), text, "latex", text.index("}"))
        assert [item.label for item in library_items(result.items)] == [found]


async def test_typing_a_key_into_an_open_menu_never_waits_for_the_model(client):
    with_library(client)
    text = "Long short-term memory networks \\cite{hoch}\n\\bibliography{library}\n"
    uri = doc_uri(client, "typing.tex")
    served = sum((await server_status(client))["engine"]["served"].values())
    # The editor asks again as the user types into the open menu: the library at once, the model's answer pending.
    first = await menu(client, uri, text, "latex", text.index("}"), filtering=True)
    assert [item.label for item in first.items] == ["hochreiter1997"] and first.is_incomplete
    # Asked by hand at the same citation: the model's suggestions, computed once for it.
    asked = await menu(client, uri, text, "latex", text.index("}"))
    assert galactica_items(asked.items) and library_items(asked.items)[0].label == "hochreiter1997"
    text = text.replace("{hoch}", "{hochr}")
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))
    again = await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=position_at(text, text.index("}")),
        context=types.CompletionContext(trigger_kind=types.CompletionTriggerKind.TriggerForIncompleteCompletions)))
    assert [item.label for item in galactica_items(again.items)] == [item.label for item in galactica_items(asked.items)]
    assert sum((await server_status(client))["engine"]["served"].values()) == served + 1  # the model ran once


async def test_a_large_library_is_capped_and_searched_as_the_user_types(client):
    entries = "".join(f"@misc{{key{i}, title = {{Title number {i}}}, author = {{Author{i % 97}, A.}},"
                      f" year = {1990 + i % 30}}}\n" for i in range(10_000))
    (client.folder / "big.bib").write_text(entries)
    text = "See \\cite{}\n\\bibliography{big}\n"
    result = await menu(client, doc_uri(client, "big.tex"), text, "latex", text.index("}"))
    own = library_items(result.items)
    assert result.is_incomplete and len(own) == LIMIT and own[0].label == "key0"
    text = "See \\cite{key9999}\n\\bibliography{big}\n"
    result = await menu(client, doc_uri(client, "big-typed.tex"), text, "latex", text.index("}"), filtering=True)
    assert [item.label for item in library_items(result.items)] == ["key9999"]


@pytest_lsp.fixture(config=CONFIG, loop_scope="module")
async def no_model_client(lsp_client: LanguageClient, tmp_path_factory):
    """A server whose model cannot be loaded (a directory that does not exist)."""
    missing = tmp_path_factory.mktemp("no-model") / "missing-model"
    await start_session(lsp_client, "vscode", ready=False, model=str(missing))
    yield lsp_client
    await lsp_client.shutdown_session()


async def test_without_a_model_the_menu_opens_with_the_library(no_model_client, tmp_path):
    client = no_model_client
    shutil.copy(FIXTURE, tmp_path / "library.bib")
    text = "The Transformer architecture \\cite{}\n\\bibliography{library}\n"
    result = await menu(client, (tmp_path / "no-model.tex").as_uri(), text, "latex", text.index("}"))
    assert [item.label for item in result.items] == list(ENTRIES)
    assert (await server_status(client))["state"] in ("loading", "error")
