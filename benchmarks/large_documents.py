"""Document analysis at scale: a 10 MB document, and a 10 MB paragraph with no blank line.

Times what the server works out for a request before any model runs — the
formula at the cursor (``math_span_at``), all formulas (``find_math_spans``),
the completion gate and the citation trigger — on the same texts the tests in
``tests/analysis`` use (the tests check the answers; this measures them).
Prints each in seconds, and as a ratio of its target where it has one (what the
tests asserted before timing moved here).

    python3 benchmarks/large_documents.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from galactica_lsp.analysis.gate import completion_gate
from galactica_lsp.analysis.math_spans import find_math_spans, math_span_at
from galactica_lsp.analysis.triggers import citation_trigger_at

MB = 10_000_000
# The texts the tests in tests/analysis check the answers on (they import them from here).
PARAGRAPHS = {
    "latex": "The energy $E = mc^2$ and \\(c\\), see \\cite{e}. 50\\% of \\$5.\n"
    "\\begin{align*} a &= \\begin{cases} 1 \\end{cases} \\end{align*}\n% $x$ comment\n\\verb|$q$| \\[ y \\]\n\n",
    "markdown": "The energy $E = mc^2$ and [@e; @f]. It costs $20,000 and $30,000. `$x$` and $`g`$.\n\n"
    "```python\nx = '$y$'\n```\n\n```math\nE\n```\n\n",
    "python": 'def f(x):\n    """Energy $E$ and :math:`\\alpha`.\n\n    .. math::\n\n       a + b\n    """\n'
    '    # comment $c$\n    return x + "$d$"\n\n\n',
}
NO_BLANK_LINES = '\\( $20 `a `` <!-- {math} \\begin{align} \'"x" # $y ' * 250_000
GATE_PARAGRAPH = "The energy $E = mc^2$ [@a]. `code $x$`\n\n```python\nx = 1\n```\n\n$$\ny\n$$\n\n"
TRIGGER_PARAGRAPH = "The energy $E = mc^2$, see \\cite{einstein}. 50\\% % comment\n\\begin{align} a \\end{align}\n\n"


def best_of(repeat: int, work: Callable[[], object]) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return min(timings)


def report(name: str, seconds: float, target: float | None = None) -> None:
    verdict = "" if target is None else (
        f"   target {target:.0f} s: {seconds / target:.2f}× ({'met' if seconds < target else 'MISSED'})")
    print(f"{name:<58} {seconds:7.3f} s{verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is shown")
    args = parser.parse_args()

    for language, paragraph in PARAGRAPHS.items():
        text = paragraph * (MB // len(paragraph))
        offsets = (len(text) // 2, len(text) - 3, 10)
        report(f"{language}: formula at 3 cursors, 10 MB document",
               best_of(args.repeat, lambda: [math_span_at(text, o, language) for o in offsets]), 6.0)
        report(f"{language}: all formulas, 10 MB document", best_of(args.repeat, lambda: find_math_spans(text, language)))
        report(f"{language}: formula at the cursor, 10 MB paragraph",
               best_of(args.repeat, lambda: math_span_at(NO_BLANK_LINES, len(NO_BLANK_LINES) // 2, language)), 3.0)
    text = GATE_PARAGRAPH * (MB // len(GATE_PARAGRAPH)) + "And then "
    report("markdown: completion gate at the end, 10 MB document",
           best_of(args.repeat, lambda: completion_gate(text, len(text), "markdown")), 3.0)
    text = TRIGGER_PARAGRAPH * (MB // len(TRIGGER_PARAGRAPH)) + "Known \\cite{a,"
    report("latex: citation trigger at the end, 10 MB document",
           best_of(args.repeat, lambda: citation_trigger_at(text, len(text), "latex")), 3.0)


if __name__ == "__main__":
    main()
