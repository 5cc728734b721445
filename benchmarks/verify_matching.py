"""How often verification finds the right record, and how often it would accept a wrong one.

On the recorded real answers in tests/verify/recorded (Crossref, DBLP, arXiv, Semantic Scholar
paper objects), each record with a first author is looked up in the answer it came from (the
candidates a source would return), as a writer's suggestion might name it:

- right:  its own title and surname; the title lower-cased without punctuation and the author
          as "X. Surname"; the title with one typo (two letters swapped); its main title
          (before a colon, when that has 4+ words). The right record must be chosen.
- wrong:  its own title with another record's first-author surname; another record's title
          with its own surname; its title with its last three words replaced by another
          record's. Nothing may be accepted (a near-duplicate record by the same first author,
          e.g. volume 1 and volume 2 of one editorial, is counted and listed).

    python3 benchmarks/verify_matching.py [-v]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from galactica_lsp.verify.match import best, name_tokens, normalise_title  # noqa: E402
from galactica_lsp.verify.records import Record  # noqa: E402
from galactica_lsp.verify.sources import SPECS, s2_record  # noqa: E402

RECORDED = Path(__file__).resolve().parents[1] / "tests" / "verify" / "recorded"
ANSWERS = [
    ("crossref", "crossref/works_query_ecology_author_boettiger.json"),
    ("crossref", "crossref/works_query_widget.json"),
    ("crossref", "crossref/works_sample_10.json"),
    ("dblp", "dblp/publ_query_test_star.json"),
    ("arxiv", "arxiv/query_testing_100.xml"),
    ("arxiv", "arxiv/id_1605.08386.xml"),
    ("arxiv", "arxiv/id_astro-ph_0601001.xml"),
    ("semanticscholar", "semanticscholar/paper_batch.json"),
]


def load(source: str, name: str) -> list[Record]:
    body = (RECORDED / name).read_bytes()
    if name.endswith("paper_batch.json"):  # a batch answer: a list of the same paper objects
        return [r for r in (s2_record(p) for p in json.loads(body)) if r]
    return SPECS[source].parse(body)


def surname(record: Record) -> str | None:
    tokens = name_tokens(record.first_author_family or "") or name_tokens(record.first_author)
    return tokens[-1] if tokens else None


def typo(title: str) -> str:
    """Two adjacent letters of the longest word swapped."""
    words = title.split()
    i = max(range(len(words)), key=lambda k: len(words[k]))
    w = words[i]
    if len(w) >= 4:
        m = len(w) // 2
        words[i] = w[:m - 1] + w[m] + w[m - 1] + w[m + 1:]
    return " ".join(words)


def same(a: Record, b: Record) -> bool:
    """The same record, or another version of the same paper (a preprint's DOI): same title and first author."""
    if a is b or (a.doi and a.doi == b.doi) or (a.arxiv_id and a.arxiv_id == b.arxiv_id):
        return True
    return normalise_title(a.title) == normalise_title(b.title) and surname(a) == surname(b)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="list every miss and every wrong acceptance")
    args = parser.parse_args()
    right = {"own title and surname": [0, 0], "normalised title, X. Surname": [0, 0], "one typo in the title": [0, 0],
             "main title before a colon": [0, 0]}
    wrong = {"another first author's surname": [0, 0], "another record's title": [0, 0],
             "title with another record's ending": [0, 0]}
    notes: list[str] = []
    total = 0
    for source, name in ANSWERS:
        pool = load(source, name)
        people = [r for r in pool if surname(r)]
        total += len(people)
        for n, rec in enumerate(people):
            mine = surname(rec)
            other = next((p for p in people[n + 1:] + people[:n] if surname(p) != mine), None)
            positives = {
                "own title and surname": (rec.title, rec.first_author),
                "normalised title, X. Surname": (normalise_title(rec.title), f"X. {mine.title()}"),
                "one typo in the title": (typo(rec.title), mine),
            }
            head = rec.title.split(":", 1)[0]
            if head != rec.title and len(normalise_title(head).split()) >= 4:
                positives["main title before a colon"] = (head, mine)
            for kind, (title, author) in positives.items():
                chosen, _ = best(title, author, pool)
                right[kind][1] += 1
                if chosen and same(chosen.record, rec):
                    right[kind][0] += 1
                else:
                    notes.append(f"missed ({kind}) {source}: {title!r}, {author!r} → "
                                 f"{chosen.record.title if chosen else None!r}")
            if other is None:
                continue
            ending = " ".join(rec.title.split()[:-3] + other.title.split()[-3:])
            negatives = {
                "another first author's surname": (rec.title, surname(other)),
                "another record's title": (other.title, mine),
                "title with another record's ending": (ending, mine),
            }
            for kind, (title, author) in negatives.items():
                if kind == "title with another record's ending" and (
                        len(rec.title.split()) < 5 or normalise_title(title) == normalise_title(rec.title)):
                    continue  # too short to cut, or the same title after all
                chosen, _ = best(title, author, pool)
                wrong[kind][1] += 1
                if chosen and not (kind == "another record's title" and same(chosen.record, other)
                                   and surname(other) == mine):
                    wrong[kind][0] += 1
                    notes.append(f"accepted ({kind}) {source}: {title!r}, {author!r} → {chosen.record.title!r} "
                                 f"by {chosen.record.first_author} ({chosen.title_score:.3f})")
    print(f"{total} recorded records with a first author, from {len(ANSWERS)} real answers")
    print("right record found:")
    for kind, (hit, n) in right.items():
        print(f"  {kind:34s} {hit:4d}/{n:<4d} {hit / n:7.1%}" if n else f"  {kind:34s}    -")
    print("wrong record accepted:")
    for kind, (hit, n) in wrong.items():
        print(f"  {kind:34s} {hit:4d}/{n:<4d} {hit / n:7.1%}" if n else f"  {kind:34s}    -")
    if args.verbose or notes:
        print("\n".join(notes) if args.verbose else f"({len(notes)} misses or acceptances: -v lists them)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
