"""``galactica-lsp cite --suggestions N``: N distinct suggestions, one line each, or a line saying why fewer."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from galactica_lsp.engine.galactica import Reference
from galactica_lsp.engine.types import Citations, Confidence, Suggestion



def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "galactica_lsp", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})


WHY = re.compile(r"\((?P<asked>\d+) asked, the model gave (?P<given>\d+) distinct references? in (?P<beams>\d+) beams"
                 r"(?:: (?P<parts>.*))?\)")


def suggestion(text: str, total: float) -> Suggestion:
    return Suggestion(Reference(text), Confidence(minimum=total, total=total, mean=total), "stop")


def read_lines(stdout: str) -> tuple[list[tuple[float, str]], re.Match | None]:
    lines = stdout.rstrip("\n").split("\n")
    why = WHY.fullmatch(lines[-1])
    rows = [line.split("\t") for line in (lines[:-1] if why else lines)]
    assert all(len(row) == 2 for row in rows), lines  # probability TAB "Title, Author", nothing else
    return [(float(p), text) for p, text in rows], why


def test_n_asked_gives_n_distinct_suggestions_or_says_why_fewer():
    result = run("cite", "--suggestions", "3", "The Transformer architecture", "--model", "tiny")
    assert result.returncode == 0 and result.stderr == ""
    rows, why = read_lines(result.stdout)
    texts = [text for _, text in rows]
    assert texts[0] == "Attention is All you Need, Vaswani"
    assert len(texts) == len(set(texts)) <= 3
    assert [p for p, _ in rows] == sorted((p for p, _ in rows), reverse=True)
    if len(rows) == 3:
        assert why is None
    else:  # the tiny model knows few papers for this prompt: the line says so, and its figures add up
        assert why is not None, result.stdout
        assert (int(why["asked"]), int(why["given"])) == (3, len(rows))
        assert int(why["beams"]) == 3 + 6  # the first search, and one with twice the beams
        counted = sum(int(n) for n in re.findall(r"(\d+) (?:repeated|gave no)", why["parts"]))
        assert len(rows) + counted == int(why["beams"])


def test_one_asked_is_one_line():
    result = run("cite", "--suggestions", "1", "The Transformer architecture", "--model", "tiny")
    assert result.returncode == 0 and result.stdout == "1.00\tAttention is All you Need, Vaswani\n"


def test_why_fewer_names_what_became_of_the_other_beams():
    one = Citations([suggestion("A, B", -0.1)], beams=3, incomplete=1, repeated=1)
    assert one.why_fewer(1) is None
    assert one.why_fewer(3) == ("3 asked, the model gave 1 distinct reference in 3 beams: 1 repeated a reference"
                                " already given; 1 gave no complete reference (none closed with [END_REF])")
    assert Citations([], beams=2, incomplete=2, repeated=0).why_fewer(2) == (
        "2 asked, the model gave 0 distinct references in 2 beams: 2 gave no complete reference"
        " (none closed with [END_REF])")


def test_two_searches_merge_into_distinct_references_most_probable_first():
    first = Citations([suggestion("A, B", -0.5)], beams=3, incomplete=0, repeated=2)
    second = Citations([suggestion("a,  b", -0.2), suggestion("C, D", -1.0)], beams=6, incomplete=3, repeated=1)
    both = first.merged(second)
    assert [s.text for s in both.suggestions] == ["a,  b", "C, D"]  # one A (its more probable form), then C
    assert (both.beams, both.incomplete, both.repeated) == (9, 3, 4)
    assert len(both.suggestions) + both.incomplete + both.repeated == both.beams
