"""What a check returns: the records, what was compared, and the verdict.

Owns: :class:`Record` (one bibliographic record as a source describes it),
:class:`Comparison` (one candidate set against the suggestion, with its
scores), :class:`SourceReport` (how one source answered: ``ok`` or one of the
failure statuses in :data:`FAILURES`), and the three verdicts :class:`Found`,
:class:`NotFound` and :class:`Unchecked`, each with the one line an editor or
the terminal shows. Plain data: nothing here touches the network.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Source names (settings, the command line) and how they are written for people.
LABELS = {"crossref": "Crossref", "dblp": "DBLP", "arxiv": "arXiv", "semanticscholar": "Semantic Scholar"}
SOURCES = tuple(LABELS)

OK = "ok"
# Each way a source can fail to answer, with the words a person reads.
FAILURES = {
    "timeout": "timed out",
    "refused": "connection refused",
    "network": "network error",
    "rate-limited": "rate limited",
    "server-error": "server error",
    "http-error": "HTTP error",
    "malformed": "malformed answer",
}


@dataclass(frozen=True)
class Record:
    source: str
    title: str
    first_author: str  # as the source writes it ("Ashish Vaswani", "Frank, Henry S." → "Henry S. Frank")
    first_author_family: str | None = None  # the family name where the source gives it apart (Crossref)
    authors: tuple[str, ...] = ()
    year: int | None = None
    venue: str | None = None
    doi: str | None = None
    arxiv_id: str | None = None  # without version: 1605.08386, astro-ph/0601001
    url: str | None = None
    primary_class: str | None = None  # arXiv's primary category
    key: str | None = None  # the source's own id (DBLP key, S2 paper id)
    subtitle: str | None = None

    @property
    def identifier(self) -> str:
        """``DOI 10.1126/…``, ``arXiv 1605.08386`` (both when there are both), or the source's own key."""
        ids = [f"DOI {self.doi}"] if self.doi else []
        if self.arxiv_id and not (self.doi or "").lower().startswith("10.48550/"):
            ids.append(f"arXiv {self.arxiv_id}")
        if ids:
            return ", ".join(ids)
        label = LABELS.get(self.source, self.source)
        return f"{label} {self.key}" if self.key else label

    def describe(self) -> str:
        """``DOI 10.1126/science.169.3946.635, 1970, Science``: what the menu item reads after *found:*."""
        return ", ".join(str(part) for part in (self.identifier, self.year, self.venue) if part)


@dataclass(frozen=True)
class Comparison:
    """One candidate record against the suggestion."""

    record: Record
    title_score: float  # 0–1, normalised titles
    author_agrees: bool
    accepted: bool

    def line(self) -> str:
        verdict = "accepted" if self.accepted else "rejected"
        author = "agrees" if self.author_agrees else "differs"
        return (f"{LABELS.get(self.record.source, self.record.source)}: title {self.title_score:.3f}, "
                f"first author {author} ({self.record.first_author or '?'}): {verdict}: {self.record.title!r}")


@dataclass(frozen=True)
class SourceReport:
    """How one source answered one query."""

    source: str
    status: str  # OK or a key of FAILURES
    message: str = ""  # for a failure: what happened ("timed out after 5 s", "HTTP 503")
    comparisons: tuple[Comparison, ...] = ()
    cached: bool = False
    retry_after: float | None = None  # seconds, when the source asked us to wait

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def label(self) -> str:
        return LABELS.get(self.source, self.source)

    def failure(self) -> str:
        """``arXiv: timed out after 5 s``."""
        return f"{self.label}: {self.message or FAILURES.get(self.status, self.status)}"


def _labels(reports) -> str:
    return ", ".join(r.label for r in reports)


@dataclass(frozen=True)
class Found:
    record: Record
    reports: tuple[SourceReport, ...] = ()

    def describe(self) -> str:
        return f"found: {self.record.describe()}"


@dataclass(frozen=True)
class NotFound:
    """No source that answered has the record; the sources that failed are in ``reports`` too."""

    sources_checked: tuple[str, ...]
    reports: tuple[SourceReport, ...] = ()

    def describe(self) -> str:
        checked = ", ".join(LABELS.get(s, s) for s in self.sources_checked)
        failed = [r.failure() for r in self.reports if not r.ok]
        tail = f" ({'; '.join(failed)})" if failed else ""
        return f"not found in {checked}, which is not proof it is invented{tail}"


@dataclass(frozen=True)
class Unchecked:
    """Nothing could be checked: verification off, no title, or every source failed."""

    reason: str
    reports: tuple[SourceReport, ...] = field(default=())

    def describe(self) -> str:
        return f"not checked ({self.reason})"


Verdict = Found | NotFound | Unchecked
