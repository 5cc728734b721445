"""Reading .bib files (entries as text, malformed blocks reported) and matching suggestions to entries."""

from __future__ import annotations

from pathlib import Path

from benchmarks.bib_match import make_bib
from galactica_lsp.bibliography.match import MatchIndex, normalise
from galactica_lsp.bibliography.parse import (
    latex_to_text,
    parse_bib,
    read_bib,
    surnames,
)

FIXTURE = Path(__file__).parent / "fixtures" / "library.bib"


def test_the_fixture_library_reads_with_its_malformed_entry_reported_on_its_lines():
    bib = read_bib(FIXTURE)
    assert [e.key for e in bib.entries] == [
        "vaswani2017attention", "brown2020language", "touvron2023llama", "muller2021", "hochreiter1997"]
    (problem,) = bib.problems
    lines = FIXTURE.read_text().split("\n")
    assert lines[problem.line].startswith("@article{broken2019")
    assert "malformed entry skipped" in problem.message


def test_latex_in_fields_becomes_text():
    assert latex_to_text(r"Caf{\'e} \emph{Society}") == "Café Society"
    assert latex_to_text("{LLaMA}: Open~Models") == "LLaMA: Open Models"
    assert surnames(r"M{\"u}ller, J{\"o}rg and Ludwig van Beethoven and {Google Brain} and others") == (
        "Müller", "van Beethoven", "Google Brain")


def test_string_macros_duplicates_and_garbage_never_raise():
    bib = parse_bib('@string{j = "J"}\n@misc{a, title = j}\n@misc{A2, title={x}}\n@misc{a, title={y}}\n'
                    "@@@{{{\n\x00\xff garbage }}}\n@misc{b, title = {ok}}\n")
    assert [e.key for e in bib.entries][:2] == ["a", "A2"] and "b" in [e.key for e in bib.entries]
    assert bib.entries[0].title == "J"
    assert any("duplicate key 'a'" in p.message for p in bib.problems)


def test_a_file_that_is_not_utf8_is_read_as_latin1(tmp_path):
    path = tmp_path / "old.bib"
    path.write_bytes("@misc{x, title = {Caf\u00e9}, author = {M\u00fcller}}\n".encode("latin-1"))
    (entry,) = read_bib(path).entries
    assert entry.title == "Café" and entry.surnames == ("Müller",)


def test_a_missing_file_is_a_problem_not_an_error(tmp_path):
    bib = read_bib(tmp_path / "gone.bib")
    assert bib.entries == () and bib.problems[0].message == f"{tmp_path / 'gone.bib'} does not exist"
    assert bib.unusable == bib.problems[0].message


def test_normalise_folds_case_accents_and_punctuation():
    assert normalise("Über: die Quanten-Mechanik!") == "uber die quanten mechanik"


def test_a_suggestion_matches_by_title_and_surname():
    index = MatchIndex([read_bib(FIXTURE)])
    assert index.match("Attention is All you Need", "Vaswani", 0.85).key == "vaswani2017attention"
    assert index.match("Uber die Quantenmechanik der Katzen", "Muller", 0.85).key == "muller2021"
    assert index.match("Language Models are Few-Shot Learners", "Mann", 0.85).key == "brown2020language"  # co-author
    assert index.match("LLaMA: Open and Efficient Foundation Language Models", None, 0.85).key == "touvron2023llama"


def test_a_wrong_author_or_another_title_is_no_match():
    index = MatchIndex([read_bib(FIXTURE)])
    assert index.match("Attention is All you Need", "Smith", 0.85) is None
    assert index.match("PaLM: Scaling Language Modeling with Pathways", "Chowdhery", 0.85) is None
    assert index.match("Attention", "Vaswani", 0.85) is None  # a fragment is not the paper


def test_the_threshold_decides_how_alike_titles_must_be():
    index = MatchIndex([read_bib(FIXTURE)])
    assert index.match("Attention Is What You Need", "Vaswani", 0.85) is not None
    assert index.match("Attention Is What You Need", "Vaswani", 0.99) is None


def test_the_first_bibliography_wins_a_key_used_twice():
    first = parse_bib("@misc{k, title = {First}}", Path("a.bib"))
    second = parse_bib("@misc{K, title = {Second}}", Path("b.bib"))
    index = MatchIndex([first, second])
    assert len(index) == 1 and index.has_key("K") and index.match("First", None, 0.9).path == Path("a.bib")


def test_matching_against_ten_thousand_entries():
    """Each title finds its own entry among 10,000 (how fast: benchmarks/bib_match.py)."""
    text, known = make_bib(10_000)
    index = MatchIndex([parse_bib(text)])
    step = len(known) // 50
    for i in range(0, len(known), step):
        title, surname = known[i]
        assert index.match(title.lower(), surname, 0.85).key == f"key{i}"
