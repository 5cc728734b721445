"""The on-disk cache of the sources' answers, so one suggestion is looked up once.

Owns: :func:`default_directory` (``$GALACTICA_LSP_CACHE/verify``, else
``$XDG_CACHE_HOME/galactica-lsp/verify``, else ``~/.cache/galactica-lsp/verify``)
and :class:`Cache`: one JSON file per source and query (the file name is a hash
of both), holding the answer's body and when it was stored; entries older than
the TTL are misses. Only answers that were read as a result are stored (the
caller decides), never a failure. Unreadable or corrupt entries are misses; a
cache that cannot be written is logged and otherwise ignored.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_TTL = 7 * 24 * 3600.0  # a week: records change rarely, a suggestion is rarely looked up twice a day


def default_directory() -> Path:
    root = os.environ.get("GALACTICA_LSP_CACHE")
    if root:
        return Path(root).expanduser() / "verify"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "galactica-lsp" / "verify"


class Cache:
    def __init__(self, directory: Path | None = None, ttl: float = DEFAULT_TTL,
                 clock: Callable[[], float] = time.time):
        self.directory = Path(directory) if directory is not None else default_directory()
        self.ttl = ttl
        self._clock = clock

    def _path(self, source: str, query: str) -> Path:
        digest = hashlib.sha256(f"{source}\n{query}".encode("utf-8")).hexdigest()
        return self.directory / source / f"{digest[:40]}.json"

    def get(self, source: str, query: str) -> tuple[int, bytes] | None:
        """The stored (status, body) for this query, or None when missing, stale or unreadable."""
        path = self._path(source, query)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            if entry["source"] != source or entry["query"] != query:
                return None
            if self._clock() - float(entry["stored"]) > self.ttl:
                return None
            return int(entry["status"]), entry["body"].encode("utf-8")
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.debug("verify cache: ignoring %s: %s", path, exc)
            return None

    def put(self, source: str, query: str, status: int, body: bytes) -> None:
        path = self._path(source, query)
        entry = {"source": source, "query": query, "status": status, "stored": self._clock(),
                 "body": body.decode("utf-8", errors="replace")}
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(entry, f)
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("verify cache: cannot write %s: %s", path, exc)
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
