"""Start-up: from process start to ``initialize`` answered, to the model ready, to the first ghost text, and where the time goes.

Two parts, on the tiny model (or ``--model``), one run:

- the real server over LSP (``python -m galactica_lsp`` on stdio), started
  ``--runs`` times: process start → ``initialize`` answered, → the
  ``galactica/status`` "ready" notification, → the first ghost text (an
  inline completion sent as soon as the model is ready, on a memorised
  snippet of the tiny model), each a median over the runs;
- the same steps timed one by one in a fresh process (``--phases``): the
  server's own imports, torch, the tokenizer library and the torch backend,
  the checks, the load, the warm-up, the first request.

    python benchmarks/startup.py                 # tiny model, CPU
    python benchmarks/startup.py --runs 5

Targets (issue 15): ``initialize`` answered at once; the first useful answer
within 3 s of the process start on the tiny model.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

# Timed in a fresh interpreter: each step's seconds, as the server would run them (one JSON line on stdout).
PHASES = r"""
import json, time
t0 = time.perf_counter(); marks = {}
def mark(name):
    marks[name] = round(time.perf_counter() - t0, 3)
import galactica_lsp.cli, galactica_lsp.server
mark("server imports (no torch)")
import torch
mark("import torch")
import tokenizers
from galactica_lsp.engine import decoding
mark("import tokenizers + the torch backend")
from galactica_lsp.engine.loading import prepare, load_prepared, download
prepared = prepare(MODEL, device="cpu", context_tokens=800, sequences=5)
mark("checks (prepare)")
loaded = load_prepared(prepared, download(prepared.source, lambda p: None))
mark("load (opt) + backends")
from galactica_lsp.engine.service import Galactica
g = Galactica(loaded)
g.warm_up()
mark("warm-up")
from galactica_lsp.engine.types import DecodeSettings
g.complete(PROMPT, DecodeSettings(max_new_tokens=32, stop_strings=("\n",)), key="first")
mark("first request")
print(json.dumps(marks))
"""


def snippet_prompt() -> str:
    """The start of a memorised snippet: the tiny model completes its next line."""
    from galactica_lsp.tiny.corpus import SNIPPETS

    text = SNIPPETS[0].text
    return text[: text.index(" touch each other")]


async def one_server(model: str, prompt: str) -> dict:
    from harness import LspClient

    client = LspClient()
    started = time.perf_counter()
    await client.start(model, "cpu", {"suggestions": 1})
    initialize_s = time.perf_counter() - started
    await client.wait_ready(120)
    ready_s = time.perf_counter() - started
    uri = "file:///bench/startup.tex"
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "latex", "version": 1,
                                                            "text": prompt}})
    lines = prompt.split("\n")
    _, result = await client.timed("textDocument/inlineCompletion", {
        "textDocument": {"uri": uri}, "position": {"line": len(lines) - 1, "character": len(lines[-1])},
        "context": {"triggerKind": 2}})
    first_s = time.perf_counter() - started
    items = result.get("items", []) if isinstance(result, dict) else (result or [])
    status = await client.status()
    await client.stop()
    return {"initialize_s": initialize_s, "ready_s": ready_s, "first_answer_s": first_s, "answered": bool(items),
            "load_seconds": status.get("loadSeconds")}


def phases(model: str, prompt: str) -> dict:
    code = f"MODEL = {model!r}\nPROMPT = {prompt!r}\n" + PHASES
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


async def main_async(args) -> dict:
    prompt = snippet_prompt()
    runs = [await one_server(args.model, prompt) for _ in range(args.runs)]
    result = {"model": args.model, "runs": runs}
    for key in ("initialize_s", "ready_s", "first_answer_s"):
        result[key] = round(statistics.median(r[key] for r in runs), 3)
    if args.phases:
        result["phases"] = phases(args.model, prompt)
    return result


def report(r: dict) -> str:
    lines = [f"{r['model']} on cpu, median of {len(r['runs'])} server starts (process start → …):",
             f"  initialize answered  {r['initialize_s']:6.2f} s",
             f"  model ready          {r['ready_s']:6.2f} s",
             f"  first ghost text     {r['first_answer_s']:6.2f} s  (target ≤ 3 s: "
             f"{'met' if r['first_answer_s'] <= 3 else 'missed'}; answered with text in "
             f"{sum(x['answered'] for x in r['runs'])}/{len(r['runs'])} runs)"]
    if "phases" in r:
        lines.append("one process, step by step (cumulative s, and the step's own):")
        before = 0.0
        for name, at in r["phases"].items():
            lines.append(f"  {name:28s} {at:6.2f}  (+{at - before:.2f})")
            before = at
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-phases", dest="phases", action="store_false", help="skip the step-by-step process")
    parser.add_argument("--out", default="", help="also write the result as JSON to this path")
    args = parser.parse_args()
    result = asyncio.run(main_async(args))
    print(report(result))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
