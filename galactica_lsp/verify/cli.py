"""``galactica-lsp verify "Title, First author"``: one suggestion checked from the terminal.

Owns: the sub-command's arguments (:func:`add_parser`), its output on stdout
(the record found, or where it looked; with ``-v`` every candidate compared
and its scores) and its exit status (:func:`run`), which never raises:

- 0: found (with ``--bibtex``, its entry follows);
- 1: not found in the sources that answered (not proof it is invented);
- 2: bad arguments (argparse's status too);
- 3: no source could answer: network error, timeout, refused connection,
  rate limited, server error or malformed answer (one line on stderr);
- 4: found, but its BibTeX entry could not be fetched (``--bibtex``).

No model is loaded and torch is not imported (``python -m galactica_lsp.verify``
runs it on its own).
"""

from __future__ import annotations

import argparse
import sys

from .records import LABELS, SOURCES, Found, NotFound, SourceReport
from .verifier import DEFAULT_TIMEOUT, Verifier

EXIT_FOUND, EXIT_NOT_FOUND, EXIT_USAGE, EXIT_NETWORK, EXIT_BIBTEX = 0, 1, 2, 3, 4
PROG = "galactica-lsp verify"


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``verify`` on the ``galactica-lsp`` command's sub-parsers."""
    parser = subparsers.add_parser(
        "verify", help='check a suggested reference "Title, First author" against public records',
        description="Look a suggested reference up in Crossref, DBLP, arXiv and Semantic Scholar (in that order, "
                    "stopping at the first that has it). Only the title and first author are sent. Exit status: "
                    "0 found, 1 not found, 2 usage, 3 no source could answer, 4 found but no BibTeX.",
    )
    configure(parser)
    return parser


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("reference", help='"Title, First author" (the form Galactica suggests)')
    parser.add_argument("--source", action="append", choices=SOURCES, metavar="NAME",
                        help=f"a source to ask, repeatable ({', '.join(SOURCES)}; default: all, in that order)")
    parser.add_argument("--endpoint", action="append", default=[], metavar="URL",
                        help="base URL of the source (with one --source), or NAME=URL; for mirrors, proxies, tests")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help=f"seconds per request (default {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--mailto", default=None,
                        help="your e-mail for Crossref's polite pool (default $GALACTICA_LSP_MAILTO)")
    parser.add_argument("--no-cache", action="store_true", help="ask the sources even for a cached answer")
    parser.add_argument("--bibtex", action="store_true", help="also print the record's BibTeX entry")
    parser.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                        help="list every candidate compared, with its title similarity and author check")


def _endpoints(values: list[str], sources: list[str]) -> dict[str, str]:
    endpoints = {}
    for value in values:
        name, sep, url = value.partition("=")
        if sep and name in SOURCES:
            endpoints[name] = url
        elif len(sources) == 1:
            endpoints[sources[0]] = value
        else:
            raise ValueError(f"--endpoint {value}: say which source (NAME=URL) or give one --source")
    return endpoints


def _print_reports(reports: tuple[SourceReport, ...], out) -> None:
    for report in reports:
        if not report.ok:
            out.write(f"{report.failure()}\n")
            continue
        cached = " (cached answer)" if report.cached else ""
        out.write(f"{report.label}{cached}: {len(report.comparisons)} candidate(s)\n")
        for c in report.comparisons:
            out.write(f"  {c.line()}\n")


def _print_record(verdict: Found, out) -> None:
    r = verdict.record
    out.write(f"found in {LABELS[r.source]}: {r.identifier}\n")
    for label, value in (("title", r.title + (f": {r.subtitle}" if r.subtitle else "")),
                         ("first author", r.first_author), ("year", r.year), ("venue", r.venue), ("url", r.url)):
        if value:
            out.write(f"{label}: {value}\n")


def run(args: argparse.Namespace) -> int:
    out, err = sys.stdout, sys.stderr
    verbose = getattr(args, "verbose", 0) or 0
    sources = list(dict.fromkeys(args.source or SOURCES))
    try:
        endpoints = _endpoints(args.endpoint, sources)
        verifier = Verifier(endpoints, timeout=args.timeout, use_cache=not args.no_cache, mailto=args.mailto)
    except ValueError as exc:
        err.write(f"{PROG}: error: {exc}\n")
        return EXIT_USAGE
    try:
        verdict = verifier.check(args.reference, sources)
    except KeyboardInterrupt:
        return 130
    if verbose:
        _print_reports(verdict.reports, out)
    if isinstance(verdict, Found):
        _print_record(verdict, out)
        if args.bibtex:
            entry = verifier.bibtex(verdict.record)
            if entry.text is None:
                err.write(f"{PROG}: error: no BibTeX entry: {entry.problem}\n")
                return EXIT_BIBTEX
            out.write(entry.text)
        return EXIT_FOUND
    if isinstance(verdict, NotFound):
        out.write(f"{verdict.describe()}\n")
        return EXIT_NOT_FOUND
    if verdict.reports:  # every source failed
        err.write(f"{PROG}: error: {verdict.reason}\n")
        return EXIT_NETWORK
    err.write(f"{PROG}: error: {verdict.reason}\n")
    return EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description="Check a suggested reference against public records.")
    configure(parser)
    return run(parser.parse_args(argv))
