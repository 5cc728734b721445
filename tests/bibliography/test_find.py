"""Which .bib files a document uses: the names it gives, the setting, then *.bib nearby."""

from __future__ import annotations

from galactica_lsp.bibliography.find import find_bibliographies, named_bibliographies


def test_latex_names_outside_comments():
    text = "% \\bibliography{old}\n\\addbibresource[label=x]{main.bib}\n\\bibliography{a, b.bib}\n"
    assert named_bibliographies(text, "latex") == ["main.bib", "a.bib", "b.bib"]


def test_front_matter_one_name_a_flow_list_or_a_block_list():
    assert named_bibliographies("---\ntitle: x\nbibliography: refs.bib\n---\ntext", "markdown") == ["refs.bib"]
    assert named_bibliographies("---\nbibliography: ['a.bib', \"b.bib\"]\n---\n", "markdown") == ["a.bib", "b.bib"]
    assert named_bibliographies("---\nbibliography:\n  - a.bib\n  - b.bib\nlang: en\n---\n", "markdown") == [
        "a.bib", "b.bib"]
    assert named_bibliographies("text\n---\nbibliography: no.bib\n---\n", "markdown") == []  # not front matter


def test_names_resolve_next_to_the_document_and_missing_ones_are_reported(tmp_path):
    (tmp_path / "refs.bib").write_text("")
    (tmp_path / "other.bib").write_text("")
    doc = tmp_path / "paper.tex"
    found = find_bibliographies(doc, "\\bibliography{refs,gone}", "latex")
    assert found.paths == ((tmp_path / "refs.bib").resolve(),) and found.missing == ("gone.bib",)
    assert found.how == "document"


def test_the_setting_adds_files_relative_to_the_workspace(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "all.bib").write_text("")
    found = find_bibliographies(tmp_path / "notes.md", "no names here", "markdown", ["lib/all.bib"], [tmp_path])
    assert found.paths == ((tmp_path / "lib" / "all.bib").resolve(),) and found.how == "setting"


def test_without_names_bib_files_near_the_document_and_in_its_workspace(tmp_path):
    (tmp_path / "chapters").mkdir()
    (tmp_path / "refs").mkdir()
    (tmp_path / "refs" / "main.bib").write_text("")
    (tmp_path / "chapters" / "local.bib").write_text("")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "no.bib").write_text("")
    found = find_bibliographies(tmp_path / "chapters" / "one.tex", "", "latex", (), [tmp_path])
    assert found.how == "fallback"
    assert found.paths == ((tmp_path / "chapters" / "local.bib").resolve(), (tmp_path / "refs" / "main.bib").resolve())


def test_nothing_found(tmp_path):
    found = find_bibliographies(tmp_path / "x.md", "", "markdown", (), [])
    assert found.paths == () and found.how == "none"
