"""BibTeX the way exporters write it (fixtures/real_world.bib): nothing dropped that BibTeX keeps, every oddity said."""

from __future__ import annotations

from pathlib import Path

import pytest

from galactica_lsp.bibliography.bibtex import parse_bib, people
from galactica_lsp.bibliography.keys import cite
from galactica_lsp.bibliography.match import MatchIndex
from galactica_lsp.bibliography.model import Person
from galactica_lsp.bibliography.parse import read_bib

FIXTURE = Path(__file__).parent / "fixtures" / "real_world.bib"
LINES = FIXTURE.read_text().split("\n")


def entries():
    return {e.key: e for e in read_bib(FIXTURE).entries}


def test_every_citable_entry_is_kept():
    assert list(entries()) == ["zotero2019notes", "vangennep1909", "lafontaine1668", "beethoven2020", "waals1873",
                               "who2019", "mendeley2016"]


def test_a_field_given_twice_keeps_the_entry_with_the_first_value_and_a_warning():
    bib = read_bib(FIXTURE)
    repeated = [p for p in bib.problems if p.code == "duplicate-field"]
    assert [(LINES[p.line].strip(), p.message) for p in repeated] == [
        ("annote = {Second note: compare with Turner.},",
         "`zotero2019notes` gives `annote` more than once: the first value is used, as BibTeX does"),
        ("title  = {A second title that BibTeX ignores},",
         "`waals1873` gives `title` more than once: the first value is used, as BibTeX does"),
    ]
    assert entries()["waals1873"].title == "On the Continuity of the Gaseous and Liquid States"
    zotero = entries()["zotero2019notes"]
    assert (zotero.title, zotero.year, zotero.doi) == ("Rites of Passage Revisited", "2019", "10.1000/rites.2019")
    assert zotero.container == "Physical Review Letters"  # phys # " Review Letters"


def test_an_entry_without_a_key_is_reported_and_never_offered():
    bib = read_bib(FIXTURE)
    (no_key,) = [p for p in bib.problems if p.code == "no-key"]
    assert LINES[no_key.line] == "@Manual{," and LINES[no_key.end_line] == "}"
    assert no_key.message == "this @Manual entry has no key, so it cannot be cited: write one after `@Manual{`"
    assert "" not in bib.keys and all(e.key for e in bib.entries)
    index = MatchIndex([bib])
    assert index.match("Reference Manual Without a Key", "Doe", 0.85) is None
    with pytest.raises(ValueError):
        cite("", "latex")


def test_a_key_used_twice_keeps_the_first_entry():
    bib = read_bib(FIXTURE)
    (dup,) = [p for p in bib.problems if p.code == "duplicate-key"]
    assert LINES[dup.line] == "@misc{vangennep1909," and entries()["vangennep1909"].title == "Les Rites de Passage"
    assert len(bib.problems) == 4


@pytest.mark.parametrize("written, person", [
    ("{van Gennep}, Arnold", Person("van Gennep", given="Arnold")),
    ("Arnold van Gennep", Person("Gennep", particle="van", given="Arnold")),
    ("de la Fontaine, Jean", Person("Fontaine", particle="de la", given="Jean")),
    ("Ludwig van Beethoven", Person("Beethoven", particle="van", given="Ludwig")),
    ("van der Waals, Jr., Johannes Diderik", Person("Waals", particle="van der", given="Johannes Diderik",
                                                    suffix="Jr.")),
    ("{World Health Organization}", Person("World Health Organization")),
    (r"M{\"u}ller, J{\"o}rg", Person("Müller", given="Jörg")),
])
def test_names_keep_their_particle(written, person):
    assert people(written) == (person,)


def test_a_surname_is_shown_with_its_particle_and_matched_with_or_without_it():
    e = entries()
    assert e["zotero2019notes"].surnames == ("van Gennep", "Smith")
    assert e["vangennep1909"].surnames == ("van Gennep",) and e["vangennep1909"].first_author == "van Gennep"
    assert e["lafontaine1668"].surnames == ("de la Fontaine",)
    assert e["beethoven2020"].surnames == ("van Beethoven", "Shazeer")
    assert e["waals1873"].surnames == ("van der Waals",)
    assert Person("Fontaine", particle="de la").surname_forms == ("de la Fontaine", "la Fontaine", "Fontaine")
    assert Person("van Gennep").surname_forms == ("van Gennep", "Gennep")
    assert Person("Google Brain").surname_forms == ("Google Brain",)

    index = MatchIndex([read_bib(FIXTURE)])
    for author in ("van Gennep", "Gennep", "Van Gennep"):
        assert index.match("Les Rites de Passage", author, 0.85).key == "vangennep1909", author
        assert index.match("Rites of Passage Revisited", author, 0.85).key == "zotero2019notes", author
    for author in ("de la Fontaine", "La Fontaine", "Fontaine"):
        assert index.match("Fables choisies, mises en vers", author, 0.85).key == "lafontaine1668", author
    for author in ("Beethoven", "van Beethoven", "Shazeer"):
        assert index.match("On the Symphonic Structure of Attention", author, 0.85).key == "beethoven2020", author
    assert index.match("Les Rites de Passage", "van", 0.85) is None  # a particle alone is nobody
    assert index.match("Les Rites de Passage", "Fontaine", 0.85) is None


def test_biblatex_fields_and_corporate_authors():
    who = entries()["who2019"]
    assert (who.entry_type, who.year, who.container, who.surnames) == (
        "online", "2019", "WHO Newsroom", ("World Health Organization",))
    resnet = entries()["mendeley2016"]
    assert resnet.title == "Deep Residual Learning for Image Recognition" and resnet.doi == "10.1109/CVPR.2016.90"


def test_string_concatenation_with_an_unknown_macro_keeps_its_name():
    (entry,) = parse_bib('@string{acm = "ACM"}\n@misc{k, title = acm # { } # nosuch # " Letters"}').entries
    assert entry.title == "ACM nosuch Letters"
    (entry,) = parse_bib('@misc{k, title = {C# and F#}}').entries
    assert entry.title == "C# and F#"
