"""Which bibliography files a document uses: the names it gives, the setting, then *.bib nearby; and why not."""

from __future__ import annotations

import os
import sys

import pytest

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


def test_front_matter_and_the_setting_name_csl_json_and_csl_yaml_files(tmp_path):
    (tmp_path / "refs.json").write_text("[]")
    (tmp_path / "more.yaml").write_text("references: []\n")
    (tmp_path / "lib.yml").write_text("[]\n")
    (tmp_path / "package.json").write_text("{}")  # not named: never a bibliography
    text = "---\ntitle: Q\nbibliography:\n  - refs.json\n  - more.yaml\n---\nText [@k].\n"
    found = find_bibliographies(tmp_path / "paper.qmd", text, "markdown", ["lib.yml"], [tmp_path])
    assert found.paths == tuple((tmp_path / n).resolve() for n in ("refs.json", "more.yaml", "lib.yml"))
    assert found.how == "document" and found.skipped == () and found.bibtex_paths == ()


def test_the_fallback_never_takes_json_or_yaml_files(tmp_path):
    (tmp_path / "refs.json").write_text("[]")
    (tmp_path / "refs.yaml").write_text("[]")
    assert find_bibliographies(tmp_path / "paper.md", "", "markdown", (), [tmp_path]).how == "none"


def test_front_matter_is_read_as_yaml_and_by_hand_when_it_is_not_yaml():
    assert named_bibliographies('---\nbibliography: "my refs.bib"  # mine\n---\n', "markdown") == ["my refs.bib"]
    assert named_bibliographies("---\nbibliography: [a.json,\n  b.yaml]\n---\n", "markdown") == ["a.json", "b.yaml"]
    assert named_bibliographies("---\ntitle: {{ template }: x\nbibliography: r.bib\n---\n", "markdown") == ["r.bib"]
    assert named_bibliographies("---\n- a list\n---\n", "markdown") == []


@pytest.mark.skipif(sys.platform == "win32", reason="/dev/zero is POSIX")
def test_every_name_that_cannot_be_used_comes_back_with_why(tmp_path):
    (tmp_path / "folder.bib").mkdir()
    (tmp_path / "refs.ris").write_text("TY  - JOUR\n")
    with open(tmp_path / "huge.bib", "wb") as f:
        f.truncate(3_100_000_000)
    (tmp_path / "ok.bib").write_text("")
    doc = tmp_path / "paper.tex"
    text = "\\bibliography{ok,gone,folder,huge}\n\\addbibresource{refs.ris}"
    setting = ["/dev/zero", str(tmp_path / "nowhere.bib"), "relative/none.bib"]
    found = find_bibliographies(doc, text, "latex", setting, [tmp_path])
    assert found.paths == ((tmp_path / "ok.bib").resolve(),)
    assert [(s.name, s.reason, s.origin) for s in found.skipped] == [
        ("gone.bib", "does not exist next to the document or in a workspace folder", "document"),
        ("folder.bib", "is a directory", "document"),
        ("huge.bib", "is 3.1 GB, over the 64 MiB limit", "document"),
        ("refs.ris", "is RIS: only BibTeX/biblatex (.bib), CSL-JSON (.json) and CSL-YAML (.yaml) are read",
         "document"),
        ("/dev/zero", "is a character device, not a file", "setting"),
        (str(tmp_path / "nowhere.bib"), "does not exist", "setting"),
        ("relative/none.bib", "does not exist in a workspace folder", "setting"),
    ]
    assert found.missing == tuple(s.name for s in found.skipped)  # names, as before
    assert found.skipped[1].path == tmp_path / "folder.bib"
    assert found.skipped[1].message == "bibliography `folder.bib` is a directory"
    assert found.skipped[4].message == (
        "the galactica.bibliography setting's `/dev/zero` is a character device, not a file")


@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs are POSIX")
def test_a_fifo_in_the_setting_is_skipped_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe.bib")
    found = find_bibliographies(None, "", "markdown", [str(tmp_path / "pipe.bib"), "rel.bib"], [])
    assert [(s.name, s.reason) for s in found.skipped] == [
        (str(tmp_path / "pipe.bib"), "is a FIFO, not a file"),
        ("rel.bib", "is a relative path, and there is no document folder or workspace folder to look in"),
    ]
    assert found.how == "none"
