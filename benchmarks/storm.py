"""A typing storm with cancels against the real server: is every request answered, and does memory level off?

Types N keystrokes into one document as fast as the pipe takes them: each an
incremental ``didChange`` and a ghost-text request, every ``--cancel-every``-th
request cancelled at once with ``$/cancelRequest``, a hover on a formula every
``--hover-every`` keys. At the end it waits for every answer, checks the text
the server holds (through ``textDocument/codeAction``'s echo of the document
range), and prints answered/sent and the server's resident memory (VmRSS)
before the storm, after it, and its peak (VmHWM), from ``/proc``.

What bounds the server's memory under such a storm (README, "Protocol and
documents"): one text and one line index per open document (an edit drops the
old index); one ``Shown`` per document (the last suggestions answered, for
typing ahead); the latest-job table, one entry per (document, feature) in
flight; the explanation cache (256 entries, least recently used dropped); the
made-up citation keys (kept to the newest 500 past 1,000); the prefix cache
(``PrefixCache``: entries and tokens capped); at most one frame body (64 MiB
cap) and 16 chunks of 64 KiB read ahead of the event loop; pygls's table of
requests in flight, emptied as each is answered or cancelled.

    python benchmarks/storm.py --keys 3000            # the tiny model, on the CPU
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from harness import LspClient

DOCUMENT = "\\section{Results}\nThe energy is $E = mc^2$ and we find that "


def rss_kib(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def end_of(text: str) -> dict:
    lines = text.split("\n")
    return {"line": len(lines) - 1, "character": len(lines[-1].encode("utf-16-le")) // 2}


async def storm(args) -> dict:
    client = LspClient()
    await client.start(args.model, args.device, {})
    await client.wait_ready()
    pid = client.process.pid
    uri, text, version = "file:///bench/storm%20paper.tex", DOCUMENT, 1
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "latex", "version": 1,
                                                            "text": text}})
    await client.status()  # the document is open and the server idle
    before = rss_kib(pid)
    sent: list[asyncio.Future] = []
    typed = "the results hold for every size of the model we tried, and the cache helps. "
    started = time.perf_counter()
    for key in range(args.keys):
        at = end_of(text)
        char = typed[key % len(typed)]
        text, version = text + char, version + 1
        client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                                 "contentChanges": [{"range": {"start": at, "end": at}, "text": char}]})
        sent.append(client.send_request("textDocument/inlineCompletion", {
            "textDocument": {"uri": uri}, "position": end_of(text), "context": {"triggerKind": 2}}))
        if args.cancel_every and key % args.cancel_every == 0:
            client.notify("$/cancelRequest", {"id": client._next_id})
        if args.hover_every and key % args.hover_every == 0:
            sent.append(client.send_request("textDocument/hover", {
                "textDocument": {"uri": uri}, "position": {"line": 1, "character": 17}}))
        if key % 50 == 0:
            await asyncio.sleep(0)  # let the reader run: a real editor interleaves reads and writes
    done, pending = await asyncio.wait(sent, timeout=args.timeout)
    seconds = time.perf_counter() - started
    errors = sum(1 for f in done if f.exception() is not None)
    # The text the server holds ends where the client's does: a code action asked for past the end names
    # the end of the server's copy (positions are clamped to it).
    actions = await client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": {"start": {"line": 10**6, "character": 0},
                                                 "end": {"line": 10**6, "character": 0}},
        "context": {"diagnostics": [], "triggerKind": 1}})
    ends = {a["command"]["arguments"][0]["position"]["line"] * 10**6 +
            a["command"]["arguments"][0]["position"]["character"] for a in actions or []
            if "position" in a["command"]["arguments"][0]}
    client_end = end_of(text)
    after = rss_kib(pid)
    status = await client.status()
    await client.stop()
    return {"keys": args.keys, "sent": len(sent), "answered": len(done), "unanswered": len(pending), "errors": errors,
            "seconds": seconds, "same_end": ends == {client_end["line"] * 10**6 + client_end["character"]},
            "rss_before_kib": before["VmRSS"], "rss_after_kib": after["VmRSS"], "rss_peak_kib": after["VmHWM"],
            "prefix_cache": status.get("prefixCache")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--keys", type=int, default=3000)
    parser.add_argument("--cancel-every", type=int, default=2, help="cancel every n-th ghost-text request (0: none)")
    parser.add_argument("--hover-every", type=int, default=25, help="a hover every n keys (0: none)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the last answers")
    args = parser.parse_args()
    r = asyncio.run(storm(args))
    mib = lambda kib: f"{kib / 1024:.0f} MiB"  # noqa: E731
    print(f"{r['keys']} keystrokes in {r['seconds']:.1f} s: {r['answered']}/{r['sent']} requests answered "
          f"({r['errors']} with an error, cancelled ones included); the server's text ends where the client's does: "
          f"{'yes' if r['same_end'] else 'NO'}")
    print(f"server memory (RSS): {mib(r['rss_before_kib'])} before, {mib(r['rss_after_kib'])} after, "
          f"peak {mib(r['rss_peak_kib'])}")


if __name__ == "__main__":
    main()
