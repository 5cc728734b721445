r"""The text analysis against the parsers that define the syntaxes: agreement, and cost per call.

For each fixture in ``tests/analysis/fixtures`` (a MyST page, a Jupyter Book
page, a pandoc paper, a SymPy-style module) every character is labelled
``math`` (a formula's body), ``code`` (a code span's or code block's body) or
``prose``, once by ``galactica_lsp.analysis`` and once by a reference parser:

- Markdown: markdown-it-py with mdit-py-plugins' front matter, dollarmath
  (``allow_space=False, allow_digits=False``: pandoc's space and digit
  rules), amsmath, MyST roles and colon fences, read as MyST-Parser reads
  them: a ```` ```{name} ```` fence is a directive; ``{math}`` is math, a code
  directive (``code-cell``, ``code-block``…) is code, any other directive's
  body is parsed again as Markdown;
- Python: ``ast`` for the docstrings, each cleaned as ``inspect.cleandoc``
  does, and docutils for what is in them (``:math:``, ``.. math::``, doctest
  blocks, literal blocks, ``code-block``). Only docstring characters count.

It prints the share of characters labelled alike, and the math spans both
found, beside the time one call takes on a 50 KB document (the fixture
repeated): the reference parse, ``find_math_spans`` over it all, and what the
server runs per keystroke on its 24 KB window (``server/window.py``): the
gate, the citation trigger and the math span at the cursor.

    python benchmarks/analysis_agreement.py [--size 50000] [--repeat 5]

Needs ``markdown-it-py``, ``mdit-py-plugins`` and ``docutils`` (the ``bench``
extra).
"""

from __future__ import annotations

import argparse
import ast
import statistics
import time
from pathlib import Path

from docutils import nodes
from docutils.core import publish_doctree
from docutils.parsers.rst import directives
from docutils.parsers.rst.directives.body import MathBlock
from markdown_it import MarkdownIt
from mdit_py_plugins.amsmath import amsmath_plugin
from mdit_py_plugins.colon_fence import colon_fence_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.front_matter import front_matter_plugin
from mdit_py_plugins.myst_role import myst_role_plugin

from galactica_lsp.analysis import rst_lexer
from galactica_lsp.analysis.gate import completion_gate
from galactica_lsp.analysis.markdown_lexer import CODE_DIRECTIVES
from galactica_lsp.analysis.math_spans import find_math_spans, math_span_at
from galactica_lsp.analysis.regions import find_regions
from galactica_lsp.analysis.triggers import citation_trigger_at
from galactica_lsp.server.window import window_at

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "analysis" / "fixtures"
DOCUMENTS = [
    ("MyST page", "myst_page.md", "markdown"),
    ("Jupyter Book page", "jupyter_book_page.md", "markdown"),
    ("pandoc paper", "pandoc_paper.md", "markdown"),
    ("SymPy-style module", "sympy_style.py", "python"),
]
PROSE, MATH, CODE = "p", "m", "c"
class SphinxMath(MathBlock):
    """Sphinx's ``math`` directive: docutils' own, plus the ``:label:`` and ``:nowrap:`` options Sphinx adds."""

    option_spec = {**MathBlock.option_spec, "label": directives.unchanged, "nowrap": directives.flag}


directives.register_directive("math", SphinxMath)
DOCUTILS_SETTINGS = {"report_level": 5, "halt_level": 5, "warning_stream": False, "file_insertion_enabled": False}


# ---- the reference: markdown-it-py and mdit-py-plugins, as MyST-Parser runs them ----

MARKDOWN_IT = (
    MarkdownIt("commonmark")
    .use(front_matter_plugin)
    .use(dollarmath_plugin, allow_space=False, allow_digits=False, double_inline=True, allow_labels=True)
    .use(amsmath_plugin)
    .use(myst_role_plugin)
    .use(colon_fence_plugin)
)


def _line_starts(text: str, base: int = 0) -> list[int]:
    starts = [base]
    starts.extend(base + i + 1 for i, c in enumerate(text) if c == "\n")
    starts.append(base + len(text) + 1)
    return starts


def markdown_reference(text: str, base: int = 0, labels: list[str] | None = None) -> tuple[list[str], list[str]]:
    """Labels of ``text`` (placed at ``base`` in ``labels``) and the math bodies found, by markdown-it."""
    labels = labels if labels is not None else [PROSE] * len(text)
    bodies: list[str] = []
    source = text
    starts = _line_starts(source)

    def mark(lo: int, hi: int, label: str) -> None:
        for i in range(max(lo, 0), min(hi, len(source))):
            labels[base + i] = label

    for token in MARKDOWN_IT.parse(source):
        if token.map is None:
            continue
        lo, hi = starts[token.map[0]], min(starts[min(token.map[1], len(starts) - 1)], len(source))
        if token.type in ("fence", "colon_fence"):
            body_lo = starts[token.map[0] + 1] if token.map[0] + 1 < len(starts) else hi
            closing = source.rfind("\n", body_lo, hi - 1) + 1 if token.map[1] - token.map[0] > 1 else body_lo
            body_hi = closing if _closed(source, closing, hi) else hi
            name = token.info.strip().split(" ")[0]
            if name.startswith("{") and name.endswith("}"):
                name = name[1:-1]
                options = _options_end(source, body_lo, body_hi)
                if name == "math":
                    mark(options, body_hi, MATH)
                    bodies.append(source[options:body_hi].strip())
                elif name in CODE_DIRECTIVES:
                    mark(body_lo, body_hi, CODE)
                else:  # a directive whose content MyST-Parser parses as Markdown
                    _, inner = markdown_reference(source[options:body_hi], base + options, labels)
                    bodies.extend(inner)
            elif token.type == "fence" and name == "math":
                mark(body_lo, body_hi, MATH)
                bodies.append(source[body_lo:body_hi].strip())
            else:
                mark(body_lo, body_hi, CODE)
        elif token.type == "code_block":
            mark(lo, hi, CODE)
        elif token.type in ("math_block", "math_block_label"):
            opening = source.find("$$", lo, hi) + 2
            closing = source.rfind("$$", opening, hi)
            mark(opening, closing, MATH)
            bodies.append(source[opening:closing].strip())
        elif token.type == "amsmath":  # (its line map skips blank lines: find it by its content)
            at = source.find(token.content.strip(), lo)
            opening = source.find("}", at) + 1
            closing = source.rfind("\\end", opening, at + len(token.content.strip()))
            mark(opening, closing, MATH)
            bodies.append(source[opening:closing].strip())
        elif token.type == "inline":
            cursor = lo
            for child in token.children or []:
                if child.type in ("math_inline", "math_inline_double"):
                    delimiter = "$$" if child.type == "math_inline_double" else "$"
                    at = source.find(delimiter + child.content + delimiter, cursor, hi)
                    if at != -1:
                        mark(at + len(delimiter), at + len(delimiter) + len(child.content), MATH)
                        bodies.append(child.content.strip())
                        cursor = at + 2 * len(delimiter) + len(child.content)
                elif child.type in ("code_inline", "myst_role"):
                    at = source.find(child.content, cursor, hi)
                    if at != -1:
                        is_math = child.type == "myst_role" and child.meta.get("name") == "math"
                        if child.type == "code_inline" or is_math:
                            mark(at, at + len(child.content), MATH if is_math else CODE)
                        if is_math:
                            bodies.append(child.content.strip())
                        cursor = at + len(child.content)
                elif child.type == "text" and child.content:
                    at = source.find(child.content, cursor, hi)
                    cursor = cursor if at == -1 else at + len(child.content)
    return labels, bodies


def _closed(source: str, closing: int, hi: int) -> bool:
    line = source[closing:hi].strip()
    return bool(line) and set(line) <= set("`~:")


def _options_end(source: str, lo: int, hi: int) -> int:
    pos = lo
    while pos < hi:
        end = source.find("\n", pos, hi)
        end = hi if end == -1 else end
        line = source[pos:end].strip()
        if not (line.startswith(":") and line.count(":") >= 2):
            break
        pos = end + 1
    return pos


# ---- the reference for docstrings: ast and docutils ----


def docstrings(source: str) -> list[tuple[int, int]]:
    """``(body_start, body_end)`` of every module, class, function and attribute docstring, by ``ast``."""
    starts = _line_starts(source)
    found = []
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            continue
        for statement in body:
            if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
                if isinstance(statement.value.value, str):
                    value = statement.value
                    lo = starts[value.lineno - 1] + value.col_offset
                    hi = starts[value.end_lineno - 1] + value.end_col_offset
                    literal = source[lo:hi]
                    quote = literal.lstrip("rRbBuU")[:3]
                    quote = quote if quote in ('"""', "'''") else quote[0]
                    prefix = len(literal) - len(literal.lstrip("rRbBuU"))
                    found.append((lo + prefix + len(quote), hi - len(quote)))
    return sorted(set(found))


def docutils_reference(source: str, lo: int, hi: int, labels: list[str]) -> list[str]:
    """Label a docstring's characters in ``labels`` as docutils reads the cleaned docstring; its math bodies."""
    lines = source[lo:hi].split("\n")
    offsets, position = [], lo
    for line in lines:
        offsets.append(position)
        position += len(line) + 1
    rest = [len(line) - len(line.lstrip()) for line in lines[1:] if line.strip()]
    margin = min(rest, default=0)
    removed = [len(lines[0]) - len(lines[0].lstrip())] + [min(margin, len(line) - len(line.lstrip())) for line in lines[1:]]
    cleaned = [line[cut:] for line, cut in zip(lines, removed)]
    text = "\n".join(cleaned)
    cleaned_starts = _line_starts(text)

    def to_source(at: int) -> int:
        row = max(i for i, start in enumerate(cleaned_starts[:-1]) if start <= at)
        return offsets[row] + removed[row] + (at - cleaned_starts[row])

    def mark(a: int, b: int, label: str) -> None:
        for i in range(a, b):
            if text[i] != "\n":
                labels[to_source(i)] = label

    bodies = []
    cursor = 0
    tree = publish_doctree(text, settings_overrides=DOCUTILS_SETTINGS)
    for node in tree.findall(lambda n: isinstance(n, (nodes.math, nodes.math_block, nodes.doctest_block, nodes.literal_block))):
        content = node.astext()
        if isinstance(node, nodes.math):
            at = text.find(node.rawsource, cursor)
            if at == -1:
                continue
            inner = text.find("`", at) + 1
            mark(inner, inner + len(content), MATH)
            bodies.append(content.strip())
            cursor = inner + len(content)
            continue
        first, last = content.split("\n")[0], content.rstrip("\n").split("\n")[-1]
        at = text.find(first, cursor)
        if at == -1:
            continue
        end = text.find(last, at) + len(last)
        mark(at, end, MATH if isinstance(node, nodes.math_block) else CODE)
        if isinstance(node, nodes.math_block):
            bodies.append(content.strip())
        cursor = end
    return bodies


def python_reference(source: str) -> tuple[list[str], list[str], list[tuple[int, int]]]:
    labels = [PROSE] * len(source)
    bodies: list[str] = []
    spans = docstrings(source)
    for lo, hi in spans:
        bodies.extend(docutils_reference(source, lo, hi, labels))
    return labels, bodies, spans


# ---- ours ----


def ours(text: str, language: str) -> tuple[list[str], list[str]]:
    labels = [PROSE] * len(text)
    if language == "markdown":
        for region in find_regions(text, language):
            role = text[: region.start].endswith("}") and region.kind == "code"  # a MyST role's content
            math_fence = region.kind == "fence" and region.info.split(" ")[0] in ("math", "{math}")
            if region.kind in ("code", "fence") and not role and not math_fence:
                labels[region.body_start : region.body_end] = [CODE] * (region.body_end - region.body_start)
    else:
        for region in find_regions(text, language):
            if region.kind == "docstring":
                for code in rst_lexer.code_regions(text, region.body_start, region.body_end):
                    labels[code.body_start : code.body_end] = [CODE] * (code.body_end - code.body_start)
    spans = find_math_spans(text, language)
    for span in spans:
        labels[span.body_start : span.body_end] = [MATH] * (span.body_end - span.body_start)
    return labels, [span.latex for span in spans]


# ---- the comparison ----


def agreement(text: str, language: str) -> tuple[float, int, int, int, list[str]]:
    """Share of characters labelled alike; math spans ours, reference, both; and the disagreeing bodies."""
    mine, my_bodies = ours(text, language)
    if language == "markdown":
        reference, their_bodies = markdown_reference(text)
        counted = range(len(text))
    else:
        reference, their_bodies, spans = python_reference(text)
        counted = [i for lo, hi in spans for i in range(lo, hi) if text[i] not in " \t\n"]
        my_bodies = [span.latex for span in find_math_spans(text, language) if any(lo <= span.start < hi for lo, hi in spans)]
    same = sum(mine[i] == reference[i] for i in counted)
    both = len(set(my_bodies) & set(their_bodies))
    differing = sorted(set(my_bodies) ^ set(their_bodies))
    return 100.0 * same / max(1, len(counted)), len(my_bodies), len(their_bodies), both, differing


def per_call(function, repeat: int) -> float:
    """Median milliseconds of one call."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def keystroke(text: str, language: str) -> None:
    """What the server asks on a keystroke: gate, citation trigger and math span, on its window of the text."""
    for offset in (len(text) // 3, len(text) // 2, len(text) - 1):
        window = window_at(text, offset)
        completion_gate(window.text, window.cursor, language)
        citation_trigger_at(window.text, window.cursor, language)
        math_span_at(window.text, window.cursor, language)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=50_000, help="characters of the timed document")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{'document':<20} {'agree %':>8} {'math ours/ref/both':>19} | ms per call on {args.size // 1000} KB: "
          f"{'reference':>9} {'ours: all':>9} {'keystroke':>9}")
    for name, file, language in DOCUMENTS:
        text = (FIXTURES / file).read_text(encoding="utf-8")
        share, mine, theirs, both, differing = agreement(text, language)
        big = text * max(1, args.size // len(text))
        if language == "markdown":
            reference = per_call(lambda: MARKDOWN_IT.parse(big), args.repeat)
        else:
            bodies = docstrings(big)
            reference = per_call(
                lambda: [publish_doctree(big[lo:hi], settings_overrides=DOCUTILS_SETTINGS) for lo, hi in bodies],
                max(1, args.repeat // 2),
            )
        whole = per_call(lambda: find_math_spans(big, language), args.repeat)
        typing = per_call(lambda: keystroke(big, language), args.repeat) / 3
        print(f"{name:<20} {share:>8.2f} {f'{mine}/{theirs}/{both}':>19} | {'':>17}"
              f"{reference:>9.1f} {whole:>9.1f} {typing:>9.2f}")
        for body in differing:
            print(f"    only one side: {body[:70]!r}")


if __name__ == "__main__":
    main()
