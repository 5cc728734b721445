"""Checking suggested references against public bibliographic records (opt-in).

Owns nothing itself; the modules own: ``records`` (records, comparisons,
verdicts), ``match`` (title and first-author agreement), ``sources`` (Crossref,
DBLP, arXiv, Semantic Scholar: URLs and parsers), ``http`` (one GET, pacing),
``cache`` (answers on disk), ``bibtex`` (a found record's real entry),
``verifier`` (the API: :class:`Verifier`), ``cli`` (``galactica-lsp verify``).
Nothing here imports torch or the model, and nothing is sent but a
suggestion's title and first author.
"""

from .records import FAILURES, LABELS, SOURCES, Comparison, Found, NotFound, Record, SourceReport, Unchecked, Verdict
from .verifier import Bibtex, Verifier, check_endpoints

__all__ = [
    "FAILURES", "LABELS", "SOURCES", "Bibtex", "Comparison", "Found", "NotFound", "Record", "SourceReport",
    "Unchecked", "Verdict", "Verifier", "check_endpoints",
]
