"""Matching a suggestion to a record: normalised titles and the first author's surname must both agree."""

from __future__ import annotations

import pytest

from galactica_lsp.verify.match import best, compare, name_tokens, normalise_title, suggested_surname, title_score
from galactica_lsp.verify.records import Record


def record(title="Attention Is All You Need", first="Ashish Vaswani", family=None, **kw) -> Record:
    return Record("dblp", title, first, first_author_family=family, **kw)


def test_titles_are_compared_without_case_punctuation_diacritics_latex_or_markup():
    assert normalise_title("<i>Attention</i> Is All You Need!") == "attention is all you need"
    assert normalise_title(r"Caf{\'e} \emph{Society}: a R\'esum\'e") == "cafe society a resume"
    assert normalise_title("H<sub>2</sub>O &amp; CO<sub>2</sub>") == "h2o co2"
    assert normalise_title("Über die Elektrodynamik bewegter Körper") == "uber die elektrodynamik bewegter korper"


def test_a_main_title_matches_a_record_with_a_subtitle_but_a_short_head_does_not():
    water = record("The Structure of Ordinary Water: New data and interpretations are yielding new insights")
    assert title_score("The structure of ordinary water", water) == 1.0
    short = record("Deep learning: a critical appraisal of where the field goes")
    assert title_score("Deep learning", short) < 0.9  # "deep learning" alone is too short to stand for a title
    split = record("Heat-bath random walks", subtitle="with Markov bases")
    assert title_score("Heat-bath random walks with Markov bases", split) == 1.0


@pytest.mark.parametrize("author, surname", [
    ("Vaswani", "vaswani"), ("A. Vaswani", "vaswani"), ("Ashish Vaswani", "vaswani"), ("Vaswani, A.", "vaswani"),
    ("van der Maaten", "maaten"), ("L. van der Maaten", "maaten"), ("Müller", "muller"), ("O'Brien", "obrien"),
    ("", None), ("A. B.", None),
])
def test_the_suggested_surname_ignores_initials_particles_and_diacritics(author, surname):
    assert suggested_surname(author) == surname


def test_dblp_homonym_numbers_and_hyphens_do_not_change_a_name():
    assert name_tokens("H. Bast 0001") == ["bast"]
    assert name_tokens("Jean-Pierre Serre") == ["jeanpierre", "serre"]


@pytest.mark.parametrize("author, first, family, agrees", [
    ("Vaswani", "Ashish Vaswani", None, True),
    ("vaswani", "Ashish Vaswani", None, True),
    ("Ashish", "Ashish Vaswani", None, False),  # a given name is not a surname
    ("Shazeer", "Ashish Vaswani", None, False),  # a co-author is not the first author
    ("van der Maaten", "Laurens van der Maaten", None, True),
    ("Maaten", "Laurens van der Maaten", None, True),
    ("Müller", "Klaus-Robert Muller", None, True),
    ("Garcia", "Gabriel García Márquez", None, True),
    ("Frank", "Henry S. Frank", "Frank", True),
    ("Henry", "Henry S. Frank", "Frank", False),
    ("Schmidhuber", "Jürgen Schmidthuber", None, True),  # one letter off in a long name
    ("Wang", "Wei Wong", None, False),  # but never in a short one
    ("Bast", "H. Bast 0001", None, True),
])
def test_the_first_authors_surname_must_agree(author, first, family, agrees):
    assert compare("Attention Is All You Need", author, record(first=first, family=family)).author_agrees is agrees


def test_both_must_agree_and_the_best_title_wins():
    right = record()
    other_title = record("Attention Is Not All You Need For Everything Ever", "Ashish Vaswani")
    wrong_author = record(first="Noam Shazeer")
    chosen, comparisons = best("Attention is all you need", "Vaswani", [wrong_author, other_title, right])
    assert chosen.record is right and chosen.title_score == 1.0
    assert [c.accepted for c in comparisons] == [False, False, True]
    assert comparisons[0].title_score == 1.0 and not comparisons[0].author_agrees


def test_a_record_without_authors_is_never_accepted():
    chosen, (only,) = best("Attention Is All You Need", "Vaswani", [record(first="")])
    assert chosen is None and only.title_score == 1.0 and not only.author_agrees


def test_a_long_title_with_another_ending_is_not_the_same_title_though_mostly_alike():
    real = record("Capture in Turn Scan for Reduction of Test Data Volume, Test Application Time and Test Power",
                  "Zhiqiang You")
    garbled = compare("Capture in Turn Scan for Reduction of Test Data Volume, Test Application Time of test set",
                      "You", real)
    assert garbled.title_score > 0.9 and not garbled.accepted
    spelled = compare("Capture in turn scan for reduction of test data volume, test application time and the test "
                      "power", "You", real)
    assert spelled.accepted  # a dropped or added "the" is the same title


def test_a_suggested_subtitle_must_match_the_records():
    real = record("Automated Test Generation for REST APIs: No Time to Rest Yet", "Myeongsoo Kim")
    assert not compare("Automated Test Generation for REST APIs: Promises and Perils", "Kim", real).accepted
    assert compare("Automated Test Generation for REST APIs", "Kim", real).accepted
