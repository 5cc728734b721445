"""CSL-JSON and CSL-YAML bibliographies (pandoc, Quarto, Zotero's CSL JSON export), read into the same entries."""

from __future__ import annotations

from pathlib import Path

from galactica_lsp.bibliography.csl import parse_csl_json, parse_csl_yaml
from galactica_lsp.bibliography.match import MatchIndex
from galactica_lsp.bibliography.model import BibEntry, Person
from galactica_lsp.bibliography.parse import parse_bibliography, read_bib

FIXTURES = Path(__file__).parent / "fixtures"


def test_csl_json_items_become_entries_with_their_lines():
    bib = read_bib(FIXTURES / "library.json")
    assert bib.format == "csl-json"
    assert [e.key for e in bib.entries] == [
        "vaswani2017attention", "gogh1888", "beethoven1808", "who2019", "42", "editors2020"]
    first = bib.entries[0]
    assert first == BibEntry(
        key="vaswani2017attention", entry_type="paper-conference", title="Attention Is All You Need",
        authors=(Person("Vaswani", given="Ashish"), Person("Shazeer", given="Noam")), year="2017", line=1,
        container="Advances in Neural Information Processing Systems", doi="10.48550/arXiv.1706.03762")
    lines = (FIXTURES / "library.json").read_text().split("\n")
    assert all('"id": "' + e.key + '"' in "\n".join(lines[e.line:e.line + 3]) for e in bib.entries if e.key != "42")


def test_csl_names_keep_their_particles_and_dates_give_their_year():
    entries = {e.key: e for e in read_bib(FIXTURES / "library.json").entries}
    assert entries["gogh1888"].surnames == ("van Gogh",) and entries["gogh1888"].year == "1888"
    assert entries["beethoven1808"].surnames == ("van Beethoven",) and entries["beethoven1808"].year == "1808"
    assert entries["who2019"].authors == (Person("World Health Organization"),)
    assert entries["who2019"].year == "2019"  # {"literal": "May 2019"}
    assert entries["editors2020"].surnames == ("Editor",)  # editors when there are no authors
    assert entries["gogh1888"].title == "Letter to Theo on the Sunflowers"  # CSL rich-text tags removed


def test_malformed_csl_json_items_are_problems_on_their_lines():
    bib = read_bib(FIXTURES / "library.json")
    lines = (FIXTURES / "library.json").read_text().split("\n")
    found = [(p.code, lines[p.line].strip()[:22], p.message) for p in bib.problems]
    assert found == [
        ("malformed", '"not an item",', 'item 5 is not an object (`{"id": …, "title": …}`): skipped'),
        ("no-key", '{"type": "book", "titl', "item 6 has no `id`, so it cannot be cited: skipped"),
        ("duplicate-key", '{"id": "vaswani2017att',
         "duplicate id 'vaswani2017attention': this item is ignored, the first one with that id is used"),
        ("malformed", '{"id": 42, "title": "A',
         '`42`: the names are not a list (`[{"family": …, "given": …}]`): ignored'),
    ]


def test_a_json_syntax_error_keeps_the_items_before_it():
    text = '[\n  {"id": "a", "title": "A"},\n  {"id": "b", "title": "B"}\n  {"id": "c"}\n]\n'
    bib = parse_csl_json(text)
    assert [e.key for e in bib.entries] == ["a", "b"]
    (problem,) = bib.problems
    assert problem.line == 3 and problem.message == (
        "not valid CSL-JSON: expected `,` or `]` after an item (2 items before it are used)")


def test_csl_json_shapes_other_than_a_list():
    assert [e.key for e in parse_csl_json('{"items": [{"id": "z", "title": "Zotero API"}], "n": 1}').entries] == ["z"]
    assert [e.key for e in parse_csl_json('{"references": [{"id": "p"}]}').entries] == ["p"]
    assert parse_csl_json("").entries == () and parse_csl_json("  ").problems == ()
    assert parse_csl_json('{"id": "x"}').problems[0].message == (
        "not valid CSL-JSON: expected a list of items, or an object with one under `items` or `references`")
    assert parse_csl_json('"text"').problems[0].message.startswith("not valid CSL-JSON: expected a list of items")
    deep = parse_csl_json("[" * 100_000)
    assert deep.entries == () and deep.problems[0].message.startswith("not valid CSL-JSON")


def test_csl_yaml_references_become_entries_with_their_lines():
    bib = read_bib(FIXTURES / "library.yaml")
    assert bib.format == "csl-yaml"
    assert [(e.key, e.surnames, e.year, e.line) for e in bib.entries] == [
        ("vaswani2017attention", ("Vaswani", "Shazeer"), "2017", 3),
        ("gennep1909", ("van Gennep",), "1909", 14),  # issued: 1909-01-01, a YAML date
        ("fontaine1668", ("de La Fontaine",), "1668", 22),
    ]
    assert bib.entries[0].doi == "10.48550/arXiv.1706.03762"
    lines = (FIXTURES / "library.yaml").read_text().split("\n")
    assert [(p.code, lines[p.line]) for p in bib.problems] == [("malformed", "- just a string"),
                                                                ("no-key", "- title: No id here")]


def test_csl_yaml_may_be_a_plain_list_and_a_syntax_error_says_where():
    assert [e.key for e in parse_csl_yaml("- id: a\n  title: A\n- id: b\n").entries] == ["a", "b"]
    bad = parse_csl_yaml("references:\n- id: a\n  title: [unclosed\n- id: b\n")
    assert bad.entries == () and bad.problems[0].message.startswith("not valid YAML: ")
    assert bad.problems[0].line == 3
    assert parse_csl_yaml("title: a document\n").problems[0].message == (
        "not a CSL-YAML bibliography: expected a list of items, or `references:` with one")
    assert parse_csl_yaml("").entries == () and parse_csl_yaml("").problems == ()


def test_yaml_is_read_safely():
    bib = parse_csl_yaml("- id: !!python/object/apply:os.system ['echo pwned']\n")
    assert bib.entries == () and bib.problems[0].message.startswith("not valid YAML")


def test_the_format_follows_the_extension():
    json_text = '[{"id": "k", "title": "T"}]'
    assert parse_bibliography(json_text, Path("refs.json")).format == "csl-json"
    assert [e.key for e in parse_bibliography(json_text, Path("refs.json")).entries] == ["k"]
    assert parse_bibliography("- id: k\n", Path("refs.yml")).format == "csl-yaml"
    assert parse_bibliography("@misc{k}", Path("refs.bibtex")).format == "bibtex"
    assert parse_bibliography("@misc{k}").format == "bibtex"


def test_suggestions_match_csl_entries_by_title_and_any_form_of_the_surname():
    index = MatchIndex([read_bib(FIXTURES / "library.yaml"), read_bib(FIXTURES / "library.json")])
    assert index.match("Attention is all you need", "Vaswani", 0.85).path == FIXTURES / "library.yaml"
    assert index.match("Les rites de passage", "Gennep", 0.85).key == "gennep1909"
    assert index.match("Les rites de passage", "van Gennep", 0.85).key == "gennep1909"
    assert index.match("Fables choisies", "La Fontaine", 0.85).key == "fontaine1668"
    assert index.match("Fables choisies", "Fontaine", 0.85).key == "fontaine1668"
    assert index.match("Symphony No. 5 in C minor", "Beethoven", 0.85).key == "beethoven1808"
    assert index.has_key("42") and not index.has_key("")


def test_odd_names_are_kept_when_they_can_be_and_reported_when_not():
    text = ('[{"id": "k", "title": "T", "author": [{"given": "Plato"}, "Doe, J.", 7, {"dropping-particle": "van"},'
            ' {"family": "Waals", "non-dropping-particle": "van der", "suffix": "Jr."}],'
            ' "issued": {"date-parts": [["2001", 2]]}, "title-short": null}]')
    bib = parse_csl_json(text)
    (entry,) = bib.entries
    assert entry.authors == (Person("Plato"), Person("Doe, J."), Person("Waals", "van der", "", "Jr."))
    assert entry.year == "2001"
    assert [p.message for p in bib.problems] == [
        '`k`: a name is not an object (`{"family": …, "given": …}`): ignored',
        "`k`: a name has neither `family` nor `literal`: ignored",
    ]
    (bad,) = parse_csl_json('[{"id": "k", "title": {"nested": 1}}]').problems
    assert bad.message == "`k`: `title` is not text: ignored"
