"""The four bibliographic sources: how each is asked, and how its answer becomes records.

Owns: :data:`SPECS`, one :class:`Spec` per source with its public base URL,
its pacing (Crossref 5 requests/s, DBLP 1/s, arXiv 1 per 3 s as its API terms
ask, Semantic Scholar 1/s, its rate without a key), the search URL made from a
suggestion's title and surname (nothing else is sent), and the parser of its
answer: Crossref's ``/works`` JSON, DBLP's ``/search/publ/api`` JSON, arXiv's
Atom feed, Semantic Scholar's ``/paper/search/match`` JSON. A parser raises
:class:`Malformed` for an answer it cannot read; :func:`error_detail` pulls a
source's own error text out of a failed answer.
"""

from __future__ import annotations

import json
import re
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass

from .match import normalise_title
from .records import Record

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
ROWS = 5  # candidates asked for: the right record is near the top when it exists
S2_FIELDS = "title,authors,year,venue,externalIds,url"
_ARXIV_ABS = re.compile(r"arxiv\.org/abs/([^\s?#]+?)(?:v\d+)?$")
_VERSION = re.compile(r"v\d+$")
_SPACE = re.compile(r"\s+")


class Malformed(ValueError):
    """An answer that is not what the source sends."""


@dataclass(frozen=True)
class Spec:
    name: str
    base: str  # the public host; galactica.verifyEndpoints / --endpoint replace it
    interval: float  # least seconds between two requests
    search: Callable[[str, str, str, int], str]  # (base, title, surname, rows) → URL
    parse: Callable[[bytes], list[Record]]
    no_match: Callable[[int, bytes], bool] = lambda status, body: False  # an error status that means "none"


def _url(base: str, path: str, params: list[tuple[str, str]]) -> str:
    return f"{base.rstrip('/')}{path}?{urllib.parse.urlencode(params, quote_via=urllib.parse.quote)}"


def _json(body: bytes):
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Malformed(f"not JSON ({exc})") from None


def _text(value) -> str:
    return _SPACE.sub(" ", value).strip() if isinstance(value, str) else ""


def _first(value) -> str:
    """Crossref's lists of one string (``title``, ``container-title``)."""
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str) and v.strip()), "")
    return _text(value)


def _year(value) -> int | None:
    try:
        year = int(str(value)[:4])
    except (TypeError, ValueError):
        return None
    return year if 1000 <= year <= 3000 else None


# -- Crossref ---------------------------------------------------------------------------------------


def _crossref_search(base: str, title: str, surname: str, rows: int) -> str:
    return _url(base, "/works", [("query.bibliographic", title), ("query.author", surname), ("rows", str(rows))])


def _crossref_person(person: dict) -> tuple[str, str | None]:
    family, given = _text(person.get("family")), _text(person.get("given"))
    if family:
        return (f"{given} {family}" if given else family), family
    return _text(person.get("name")), None


def _crossref_year(item: dict) -> int | None:
    for key in ("issued", "published", "published-print", "published-online", "created"):
        parts = (item.get(key) or {}).get("date-parts") or [[None]]
        year = _year(parts[0][0] if parts and parts[0] else None)
        if year:
            return year
    return None


def _crossref_parse(body: bytes) -> list[Record]:
    data = _json(body)
    message = data.get("message") if isinstance(data, dict) else None
    items = message.get("items") if isinstance(message, dict) else None
    if not isinstance(items, list):
        raise Malformed("no message.items in Crossref's answer")
    records = []
    for item in items:
        if not isinstance(item, dict) or not _first(item.get("title")):
            continue
        people = [p for p in item.get("author") or [] if isinstance(p, dict)]
        first = next((p for p in people if p.get("sequence") == "first"), people[0] if people else {})
        display, family = _crossref_person(first)
        records.append(Record(
            source="crossref", title=_first(item.get("title")), subtitle=_first(item.get("subtitle")) or None,
            first_author=display, first_author_family=family,
            authors=tuple(n for n in (_crossref_person(p)[0] for p in people) if n),
            year=_crossref_year(item), venue=_first(item.get("container-title")) or None,
            doi=_text(item.get("DOI")) or None, url=_text(item.get("URL")) or None,
        ))
    return records


# -- DBLP -------------------------------------------------------------------------------------------


def _dblp_search(base: str, title: str, surname: str, rows: int) -> str:
    return _url(base, "/search/publ/api", [("q", f"{normalise_title(title)} {surname}"), ("format", "json"),
                                             ("h", str(rows))])


def _dblp_names(info: dict) -> list[str]:
    people = (info.get("authors") or {}).get("author") or []
    if not isinstance(people, list):
        people = [people]  # one author: DBLP sends the object itself
    names = [_text(p.get("text") if isinstance(p, dict) else p) for p in people]
    return [re.sub(r"\s+\d{4}$", "", n) for n in names if n]


def _dblp_parse(body: bytes) -> list[Record]:
    data = _json(body)
    hits = data.get("result", {}).get("hits") if isinstance(data, dict) else None
    if not isinstance(hits, dict):
        raise Malformed("no result.hits in DBLP's answer")
    found = hits.get("hit") or []
    if isinstance(found, dict):
        found = [found]
    records = []
    for hit in found:
        info = hit.get("info") if isinstance(hit, dict) else None
        if not isinstance(info, dict) or not _text(info.get("title")):
            continue
        names = _dblp_names(info)
        venue = info.get("venue")
        venue = ", ".join(v for v in venue if isinstance(v, str)) if isinstance(venue, list) else _text(venue)
        ee = info.get("ee")
        ee = next((e for e in ee if isinstance(e, str)), "") if isinstance(ee, list) else _text(ee)
        arxiv = _ARXIV_ABS.search(ee)
        title = _text(info.get("title"))
        records.append(Record(
            source="dblp", title=title[:-1] if title.endswith(".") else title,
            first_author=names[0] if names else "", authors=tuple(names), year=_year(info.get("year")),
            venue=venue or None, doi=_text(info.get("doi")) or None, arxiv_id=arxiv.group(1) if arxiv else None,
            url=_text(info.get("url")) or ee or None, key=_text(info.get("key")) or None,
        ))
    return records


# -- arXiv ------------------------------------------------------------------------------------------


def _arxiv_search(base: str, title: str, surname: str, rows: int) -> str:
    words = normalise_title(title)
    query = f'ti:"{words}" AND au:{surname}'
    return _url(base, "/api/query", [("search_query", query), ("max_results", str(rows))])


def arxiv_id_url(base: str, arxiv_id: str) -> str:
    """The feed of one paper: for the BibTeX of a record another source found on arXiv."""
    return _url(base, "/api/query", [("id_list", arxiv_id), ("max_results", "1")])


def _feed(body: bytes) -> ET.Element:
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise Malformed(f"not XML ({exc})") from None
    if root.tag != f"{ATOM}feed":
        raise Malformed(f"not an Atom feed (root <{root.tag}>)")
    return root


def parse_arxiv(body: bytes) -> list[Record]:
    records = []
    for entry in _feed(body).iter(f"{ATOM}entry"):
        ident = _text(entry.findtext(f"{ATOM}id"))
        if "/api/errors" in ident:
            raise Malformed(f"arXiv reports an error: {_text(entry.findtext(f'{ATOM}summary'))}")
        arxiv_id = _VERSION.sub("", ident.split("/abs/", 1)[1]) if "/abs/" in ident else None
        names = [_text(a.findtext(f"{ATOM}name")) for a in entry.findall(f"{ATOM}author")]
        names = [n for n in names if n]
        primary = entry.find(f"{ARXIV}primary_category")
        title = _text(entry.findtext(f"{ATOM}title"))
        if not title or not arxiv_id:
            continue
        records.append(Record(
            source="arxiv", title=title, first_author=names[0] if names else "", authors=tuple(names),
            year=_year(entry.findtext(f"{ATOM}published")), venue=_text(entry.findtext(f"{ARXIV}journal_ref")) or None,
            doi=_text(entry.findtext(f"{ARXIV}doi")) or None, arxiv_id=arxiv_id,
            url=f"https://arxiv.org/abs/{arxiv_id}", primary_class=primary.get("term") if primary is not None else None,
        ))
    return records


# -- Semantic Scholar -------------------------------------------------------------------------------


def _s2_search(base: str, title: str, surname: str, rows: int) -> str:
    # The match endpoint takes a title only; the surname is compared here, not sent.
    return _url(base, "/graph/v1/paper/search/match", [("query", title), ("fields", S2_FIELDS)])


def s2_record(paper: dict) -> Record | None:
    """One Semantic Scholar paper object (as in ``data`` of a match, or a batch answer)."""
    if not isinstance(paper, dict) or not _text(paper.get("title")):
        return None
    names = [_text(a.get("name")) for a in paper.get("authors") or [] if isinstance(a, dict)]
    names = [n for n in names if n]
    ids = paper.get("externalIds") if isinstance(paper.get("externalIds"), dict) else {}
    arxiv = _text(ids.get("ArXiv")) or None
    return Record(
        source="semanticscholar", title=_text(paper["title"]), first_author=names[0] if names else "",
        authors=tuple(names), year=_year(paper.get("year")), venue=_text(paper.get("venue")) or None,
        doi=_text(ids.get("DOI")) or None, arxiv_id=arxiv, url=_text(paper.get("url")) or None,
        key=_text(paper.get("paperId")) or None,
    )


def _s2_parse(body: bytes) -> list[Record]:
    data = _json(body)
    papers = data.get("data") if isinstance(data, dict) else None
    if not isinstance(papers, list):
        raise Malformed("no data in Semantic Scholar's answer")
    return [r for r in (s2_record(p) for p in papers) if r]


def _s2_no_match(status: int, body: bytes) -> bool:
    """S2 answers 404 with a JSON ``error`` ("Title match not found") when no title is close."""
    if status != 404:
        return False
    try:
        return isinstance(_json(body).get("error"), str)
    except (Malformed, AttributeError):
        return False


SPECS = {
    "crossref": Spec("crossref", "https://api.crossref.org", 0.2, _crossref_search, _crossref_parse),
    "dblp": Spec("dblp", "https://dblp.org", 1.0, _dblp_search, _dblp_parse),
    "arxiv": Spec("arxiv", "https://export.arxiv.org", 3.0, _arxiv_search, parse_arxiv),
    "semanticscholar": Spec("semanticscholar", "https://api.semanticscholar.org", 1.0, _s2_search, _s2_parse,
                            _s2_no_match),
}


def error_detail(body: bytes) -> str:
    """A source's own words about a failed request: JSON ``message``/``error``, arXiv's error summary; else ''."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        data = None
    if isinstance(data, dict):
        for key in ("message", "error"):
            value = data.get(key)
            if isinstance(value, str):
                return _text(value)[:200]
            if isinstance(value, list) and value and isinstance(value[0], dict):  # Crossref validation failures
                return _text(str(value[0].get("message", "")))[:200]
        return ""
    try:
        for entry in _feed(body).iter(f"{ATOM}entry"):
            return _text(entry.findtext(f"{ATOM}summary"))[:200]
    except Malformed:
        pass
    text = body.decode("utf-8", errors="replace").strip()
    return text[:200] if text and "<" not in text[:50] else ""
