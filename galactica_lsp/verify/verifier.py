"""Checking a suggestion against the sources, and fetching a found record's BibTeX.

Owns: :class:`Verifier`, built once per set of settings and kept (it holds
each source's pacing, so the limits hold across requests and threads):

- :meth:`Verifier.check` (blocking: run it in a thread) asks the named sources
  in order, stops at the first that has the record, and returns
  :class:`~.records.Found`, :class:`~.records.NotFound` or
  :class:`~.records.Unchecked`; it never raises, and each source's answer or
  failure is in the verdict's ``reports``;
- :meth:`Verifier.check_async` (and :meth:`Verifier.check_reference_async`,
  for a title and author already apart) runs it in a worker thread under a deadline,
  so an event loop never waits on the network (in ``executor`` when one is
  given: a server keeps these threads apart from the loop's default pool, so
  a slow source never holds up its other work);
- :meth:`Verifier.bibtex` / :meth:`Verifier.bibtex_async`: the record's real
  entry (Crossref content negotiation for a DOI, arXiv's metadata otherwise).

Only the suggestion's title and first author's surname leave the machine
(Semantic Scholar's match takes the title alone). Answers that were read are
cached on disk; failures never are. A 429 blocks the source for its
``Retry-After`` (60 s when it gives none); until then no request is made.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from urllib.parse import urlencode, urlparse

from .. import __version__
from ..engine.galactica import Reference
from . import http
from .bibtex import ACCEPT, arxiv_entry, crossref_bibtex_url, from_crossref, looks_like_entry
from .cache import Cache
from .match import TITLE_AGREE, best, suggested_surname
from .records import LABELS, OK, Found, NotFound, Record, SourceReport, Unchecked, Verdict
from .sources import ROWS, SPECS, Malformed, arxiv_id_url, error_detail, parse_arxiv

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 8.0  # seconds per request
DEFAULT_RETRY_AFTER = 60.0  # a 429 without Retry-After
USER_AGENT = f"galactica-lsp/{__version__} (checks suggested references)"


@dataclass(frozen=True)
class Bibtex:
    """A found record's entry (``text``), or why there is none (``problem``, one line)."""

    text: str | None
    source: str
    problem: str | None = None


def _base_url(value: str) -> bool:
    parts = urlparse(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def check_endpoints(endpoints: Mapping[str, str]) -> list[str]:
    """One message per bad entry of a source → base URL mapping (unknown source, not an http(s) URL)."""
    problems = []
    for name, url in endpoints.items():
        if name not in SPECS:
            problems.append(f"unknown source {name!r}: use {', '.join(SPECS)}")
        elif not isinstance(url, str) or not _base_url(url):
            problems.append(f"{name}: {url!r} is not an http(s) URL")
    return problems


class Verifier:
    def __init__(self, endpoints: Mapping[str, str] | None = None, timeout: float = DEFAULT_TIMEOUT,
                 cache: Cache | None = None, use_cache: bool = True, mailto: str | None = None,
                 intervals: Mapping[str, float] | None = None, max_wait: float = 30.0, rows: int = ROWS,
                 threshold: float = TITLE_AGREE, s2_key: str | None = None,
                 clock: Callable[[], float] | None = None, sleep: Callable[[float], None] | None = None,
                 executor: Executor | None = None):
        bad = check_endpoints(endpoints or {})
        if bad:
            raise ValueError("; ".join(bad))
        self.bases = {name: (endpoints or {}).get(name, spec.base) for name, spec in SPECS.items()}
        self.timeout, self.max_wait, self.rows, self.threshold = timeout, max_wait, rows, threshold
        self.cache = (cache or Cache()) if use_cache else None
        self.mailto = mailto if mailto is not None else os.environ.get("GALACTICA_LSP_MAILTO") or None
        self.s2_key = s2_key if s2_key is not None else os.environ.get("SEMANTIC_SCHOLAR_API_KEY") or None
        self.executor = executor
        timing = {k: v for k, v in (("clock", clock), ("sleep", sleep)) if v is not None}
        self.pacers = {name: http.Pacer((intervals or {}).get(name, spec.interval), **timing)
                       for name, spec in SPECS.items()}

    # -- the check ----------------------------------------------------------------------------------

    def check(self, suggestion: str, sources: Sequence[str]) -> Verdict:
        """Check a ``Title, First author`` suggestion; blocking (network), never raises."""
        reference = Reference(suggestion.strip())
        return self.check_reference(reference.title, reference.author, sources)

    def check_reference(self, title: str, author: str | None, sources: Sequence[str]) -> Verdict:
        try:
            return self._check(title.strip(), (author or "").strip() or None, list(sources))
        except Exception as exc:  # a bug here must not take the caller down
            log.exception("verify failed")
            return Unchecked(f"internal error: {type(exc).__name__}: {exc}")

    async def check_async(self, suggestion: str, sources: Sequence[str], deadline: float | None = None) -> Verdict:
        """:meth:`check` in a worker thread; after ``deadline`` seconds, Unchecked (the thread finishes and caches)."""
        reference = Reference(suggestion.strip())
        return await self.check_reference_async(reference.title, reference.author, sources, deadline)

    async def check_reference_async(self, title: str, author: str | None, sources: Sequence[str],
                                    deadline: float | None = None) -> Verdict:
        """:meth:`check_reference` in a worker thread, under ``deadline`` as :meth:`check_async`."""
        limit = deadline if deadline is not None else self.deadline(len(sources))
        try:
            return await asyncio.wait_for(self._in_thread(self.check_reference, title, author, sources), limit)
        except asyncio.TimeoutError:
            return Unchecked(f"no answer within {limit:g} s")

    def _in_thread(self, call: Callable, *args):
        if self.executor is None:
            return asyncio.to_thread(call, *args)
        return asyncio.get_running_loop().run_in_executor(self.executor, call, *args)

    def deadline(self, n_sources: int) -> float:
        """Enough for every source to time out once, plus waiting for its turn."""
        return max(1, n_sources) * (self.timeout + 1.0) + self.max_wait

    def _check(self, title: str, author: str | None, sources: list[str]) -> Verdict:
        if not sources:
            return Unchecked("verification is off: no source named")
        unknown = [s for s in sources if s not in SPECS]
        if unknown:
            return Unchecked(f"unknown source {', '.join(unknown)}: use {', '.join(SPECS)}")
        if not title:
            return Unchecked("no title to check")
        surname = suggested_surname(author or "")
        if not surname:
            return Unchecked("the suggestion names no first author to compare")
        reports: list[SourceReport] = []
        for name in dict.fromkeys(sources):
            report, chosen = self._ask(name, title, author, surname)
            reports.append(report)
            if chosen is not None:
                return Found(chosen, tuple(reports))
        answered = tuple(r.source for r in reports if r.ok)
        if answered:
            return NotFound(answered, tuple(reports))
        return Unchecked("; ".join(r.failure() for r in reports), tuple(reports))

    def _ask(self, name: str, title: str, author: str | None, surname: str) -> tuple[SourceReport, Record | None]:
        spec = SPECS[name]
        url = spec.search(self.bases[name], title, surname, self.rows)
        answer = self._fetch(name, url, {"Accept": "application/json"}, parse=spec.parse)
        if isinstance(answer, SourceReport):
            return answer, None
        records, cached = answer
        chosen, comparisons = best(title, author, records, self.threshold)
        for c in comparisons:
            log.debug("verify %s", c.line())
        return SourceReport(name, OK, comparisons=comparisons, cached=cached), chosen.record if chosen else None

    def _fetch(self, name: str, url: str, headers: dict[str, str], parse: Callable[[bytes], list[Record]]):
        """(records, from cache) for a search URL, or the SourceReport of its failure."""
        spec = SPECS[name]
        if self.cache is not None:
            stored = self.cache.get(name, url)
            if stored is not None:
                try:
                    return ([] if stored[0] != 200 else parse(stored[1])), True
                except Malformed:
                    pass  # a corrupt entry: ask again
        answer = self._request(name, url, headers)
        if isinstance(answer, SourceReport):
            return answer
        if spec.no_match(answer.status, answer.body):
            if self.cache is not None:
                self.cache.put(name, url, answer.status, answer.body)
            return [], False
        failed = self._status_failure(name, answer)
        if failed:
            return failed
        try:
            records = parse(answer.body)
        except Malformed as exc:
            return SourceReport(name, "malformed", f"malformed answer: {exc}")
        if self.cache is not None:
            self.cache.put(name, url, answer.status, answer.body)
        return records, False

    def _request(self, name: str, url: str, headers: dict[str, str]) -> http.Response | SourceReport:
        pacer = self.pacers[name]
        blocked = pacer.blocked_for()
        if blocked > 0:
            return SourceReport(name, "rate-limited", f"rate limited: asked to wait {blocked:.0f} s more",
                                retry_after=blocked)
        if not pacer.wait_turn(self.max_wait):
            return SourceReport(name, "rate-limited", f"too many requests queued for {LABELS[name]}")
        headers = {"User-Agent": self._user_agent(), **headers}
        if name == "crossref" and self.mailto:
            url += ("&" if "?" in url else "?") + urlencode({"mailto": self.mailto})
        if name == "semanticscholar" and self.s2_key:
            headers["x-api-key"] = self.s2_key
        log.debug("verify: GET %s", url)
        answer = http.get(url, headers, self.timeout)
        if isinstance(answer, http.Failure):
            return SourceReport(name, answer.status, answer.message)
        return answer

    def _status_failure(self, name: str, answer: http.Response) -> SourceReport | None:
        if 200 <= answer.status < 300:
            return None
        wait = http.retry_after(answer.header("Retry-After"))
        detail = error_detail(answer.body)
        detail = f": {detail}" if detail else ""
        if answer.status == 429:
            wait = DEFAULT_RETRY_AFTER if wait is None else wait
            self.pacers[name].block(wait)
            return SourceReport(name, "rate-limited", f"rate limited (HTTP 429): retry after {wait:.0f} s",
                                retry_after=wait)
        if answer.status >= 500:
            if wait is not None:  # a 503 may say when to come back
                self.pacers[name].block(wait)
            return SourceReport(name, "server-error", f"server error (HTTP {answer.status}){detail}", retry_after=wait)
        return SourceReport(name, "http-error", f"HTTP {answer.status}{detail}")

    def _user_agent(self) -> str:
        return f"{USER_AGENT[:-1]}; mailto:{self.mailto})" if self.mailto else USER_AGENT

    # -- BibTeX -------------------------------------------------------------------------------------

    def bibtex(self, record: Record, key: str | None = None) -> Bibtex:
        """The record's entry: Crossref's for a DOI, one built from arXiv's metadata for an arXiv id; never raises."""
        try:
            if from_crossref(record):
                return self._crossref_bibtex(record.doi)
            if record.arxiv_id:
                return self._arxiv_bibtex(record, key)
            return Bibtex(None, record.source, "the record has no DOI or arXiv id to take an entry from")
        except Exception as exc:
            log.exception("bibtex failed")
            return Bibtex(None, record.source, f"internal error: {type(exc).__name__}: {exc}")

    async def bibtex_async(self, record: Record, key: str | None = None, deadline: float | None = None) -> Bibtex:
        limit = deadline if deadline is not None else self.deadline(1)
        try:
            return await asyncio.wait_for(self._in_thread(self.bibtex, record, key), limit)
        except asyncio.TimeoutError:
            return Bibtex(None, record.source, f"no answer within {limit:g} s")

    def _crossref_bibtex(self, doi: str) -> Bibtex:
        answer = self._request("crossref", crossref_bibtex_url(self.bases["crossref"], doi), {"Accept": ACCEPT})
        if isinstance(answer, SourceReport):
            return Bibtex(None, "crossref", answer.failure())
        if answer.status == 404:
            return Bibtex(None, "crossref", f"Crossref: no entry for DOI {doi} (HTTP 404)")
        failed = self._status_failure("crossref", answer)
        if failed:
            return Bibtex(None, "crossref", failed.failure())
        text = answer.body.decode("utf-8", errors="replace").strip()
        if not looks_like_entry(text):
            return Bibtex(None, "crossref", "Crossref: malformed answer: not a BibTeX entry")
        return Bibtex(text + "\n", "crossref")

    def _arxiv_bibtex(self, record: Record, key: str | None) -> Bibtex:
        if record.source != "arxiv" or not record.authors:
            answer = self._fetch("arxiv", arxiv_id_url(self.bases["arxiv"], record.arxiv_id),
                                 {"Accept": "application/atom+xml"}, parse=parse_arxiv)
            if isinstance(answer, SourceReport):
                return Bibtex(None, "arxiv", answer.failure())
            found = [r for r in answer[0] if r.arxiv_id == record.arxiv_id]
            if not found:
                return Bibtex(None, "arxiv", f"arXiv: no paper {record.arxiv_id}")
            record = found[0]
        return Bibtex(arxiv_entry(record, key), "arxiv")
