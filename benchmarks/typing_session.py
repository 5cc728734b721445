"""Latency as a user meets it: the real server over LSP beside the naive path and the floor, in one run.

Scenarios (each side by side with ``generate()`` on the same prompts):

- typing: a ~600-token LaTeX document, then a sentence typed a key every
  ``--interval`` ms with ghost text requested after each key (older requests
  are superseded by the server); every ``--pause-every`` words the user pauses
  until the answer comes. Then the user types the start of the suggestion
  shown (typing ahead: answered without the model);
- citations: ``\\cite{`` at the end of the document: 5 diverse suggestions,
  against ``generate(num_beams=5, num_return_sequences=5)``;
- hover: explaining a formula, against ``generate()`` of as many tokens.

Each scenario runs once per engine (``--engines``: a server process each, in
turn, never at once): torch, CTranslate2, CTranslate2 with int8 weights. Also
each engine's decoding time per token against the floor (every weight read
once per token at the measured memory bandwidth).

Prints p50/p95 and the ratios; writes ``--out``.json and a plot of latency per
keystroke (``--out``.png, with matplotlib: ``pip install -e .[bench]``).

    python benchmarks/typing_session.py --model mini --device cpu
    python benchmarks/typing_session.py --model /path/to/galactica-125m --device cuda
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import time
from pathlib import Path

import torch

from harness import (
    REFERENCE,
    LspClient,
    Naive,
    TransformersForward,
    floor_ms,
    measure_floor,
    percentiles,
    prepare_model,
    ratio,
    temporary_directory,
)

PARAGRAPHS = [
    "Protein structure prediction has long been a central problem of computational biology. "
    "Given the amino acid sequence of a protein, the task is to determine the three dimensional "
    "coordinates of its atoms, and with them the contacts between residues.",
    "We model the distribution $p(y \\mid x) = \\prod_{t=1}^{T} p(y_t \\mid y_{<t}, x)$ with a decoder-only "
    "Transformer, trained by maximum likelihood on a corpus of scientific text, and we evaluate it on held-out "
    "documents by perplexity.",
    "\\subsection{Attention}\nThe attention of a query $q$ over keys $K$ and values $V$ is "
    "$\\mathrm{softmax}(q K^\\top / \\sqrt{d}) V$, where $d$ is the dimension of a head. Several heads "
    "run in parallel and their outputs are concatenated.",
    "Training used the Adam optimiser with a learning rate of $3 \\times 10^{-4}$, a linear warm-up over the first "
    "thousand steps and a cosine decay afterwards; the batch held two million tokens.",
    "Table~\\ref{tab:results} compares the models. The largest one is better on every task, and the gap grows "
    "with the length of the context, which suggests that the model uses information far from the cursor.",
]
TYPED = "Our results show that the cache of the prompt can be reused across requests without changing the output."
FORMULAS = ["E = m c^2", "\\nabla \\cdot \\mathbf{E} = \\rho / \\varepsilon_0", "\\int_0^1 x^2 \\, dx = 1/3"]


def build_document(tokens: int) -> str:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(REFERENCE / "tokenizer" / "tokenizer.json"))
    text = "\\documentclass{article}\n\\begin{document}\n\\section{Introduction}\n"
    i = 0
    while len(tokenizer.encode(text).ids) < tokens:
        text += PARAGRAPHS[i % len(PARAGRAPHS)] + ("\n\n" if i % 2 else " ")
        i += 1
    return text.rstrip() + "\n\n"


def end_position(text: str) -> dict:
    lines = text.split("\n")
    return {"line": len(lines) - 1, "character": len(lines[-1].encode("utf-16-le")) // 2}


class Document:
    """The document as the client holds it; edits go to the server as incremental changes."""

    def __init__(self, client: LspClient, uri: str, text: str):
        self.client, self.uri, self.text, self.version = client, uri, text, 1
        client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "latex", "version": 1,
                                                                "text": text}})

    def type(self, chars: str) -> None:
        at = end_position(self.text)
        self.version += 1
        self.text += chars
        self.client.notify("textDocument/didChange", {
            "textDocument": {"uri": self.uri, "version": self.version},
            "contentChanges": [{"range": {"start": at, "end": at}, "text": chars}],
        })

    def ghost(self) -> asyncio.Future:
        return self.client.send_request("textDocument/inlineCompletion", {
            "textDocument": {"uri": self.uri}, "position": end_position(self.text),
            "context": {"triggerKind": 2},
        })


def texts_of(result) -> list[str]:
    items = result.get("items", []) if isinstance(result, dict) else (result or [])
    return [i["insertText"] if isinstance(i["insertText"], str) else i["insertText"]["value"] for i in items]


async def engine_time(client: LspClient, label: str) -> float | None:
    """Queue wait + run time of the worker's last job, when it is the one just answered."""
    last = (await client.status())["lastLatencies"]
    if last and last[-1]["label"] == label and last[-1]["outcome"] == "done":
        return last[-1]["waitedMs"] + last[-1]["ranMs"]
    return None


async def typing(client: LspClient, args, document: str) -> dict:
    doc = Document(client, "file:///bench/typing.tex", document)
    keys, served, overheads = [], [], []
    words = 0
    futures: list[tuple[dict, asyncio.Future]] = []
    typed = TYPED[: args.chars] if args.chars else TYPED
    for i, char in enumerate(typed):
        doc.type(char)
        key = {"key": i, "sent_s": time.perf_counter(), "text": doc.text}
        futures.append((key, doc.ghost()))
        words += char == " "
        pause = char == " " and words % args.pause_every == 0
        if pause or i == len(typed) - 1:
            ms, result = await futures[-1][1]  # the user stops and waits for the ghost text
            engine = await engine_time(client, "inline completion")
            if texts_of(result) and engine is not None:
                overheads.append(ms - engine)
        else:
            await asyncio.sleep(args.interval / 1000)
    for key, future in futures:
        ms, result = await future
        texts = texts_of(result)
        key.update(latency_ms=ms, answer=texts[0] if texts else "")
        later = [k for k, _ in futures if k["key"] == key["key"] + 1]
        superseded = not texts and later and later[0]["sent_s"] < key["sent_s"] + ms / 1000
        key["kind"] = "suggestion" if texts else ("superseded" if superseded else "empty")
        keys.append(key)
        if texts:
            served.append(key)
    # Typing ahead: the user types the start of the last suggestion shown.
    ahead = []
    if served:
        last = served[-1]
        if doc.text != last["text"]:
            doc = Document(client, "file:///bench/ahead.tex", last["text"])
            ms, result = await doc.ghost()
            shown = (texts_of(result) or [""])[0]
        else:
            shown = last["answer"]
        for k in range(1, min(6, len(shown))):
            doc.type(shown[k - 1])
            ms, result = await doc.ghost()
            ahead.append({"latency_ms": ms, "rest_matches": (texts_of(result) or [""])[0] == shown[k:]})
    return {"keys": keys, "served": served, "overheads": overheads, "ahead": ahead, "doc": doc}


async def citations(client: LspClient, args, document: str) -> list[dict]:
    doc = Document(client, "file:///bench/cite.tex", document)
    runs = []
    for sentence in PARAGRAPHS[: args.citations]:
        doc.type(sentence.split(". ")[0] + " \\cite{")
        ms, result = await client.timed("textDocument/completion", {
            "textDocument": {"uri": doc.uri}, "position": end_position(doc.text),
            "context": {"triggerKind": 2, "triggerCharacter": "{"},
        })
        items = result.get("items", []) if isinstance(result, dict) else (result or [])
        runs.append({"latency_ms": ms, "items": len(items), "text": doc.text, "engine_ms": await engine_time(client, "citation")})
        doc.type("}. ")
    return runs


async def hovers(client: LspClient, args) -> list[dict]:
    text = "\\section{Formulas}\n" + "".join(f"We have ${f}$ here.\n" for f in FORMULAS[: args.hovers])
    doc = Document(client, "file:///bench/hover.tex", text)
    runs = []
    for line, formula in enumerate(FORMULAS[: args.hovers], start=1):
        ms, result = await client.timed("textDocument/hover", {
            "textDocument": {"uri": doc.uri}, "position": {"line": line, "character": 10}})
        runs.append({"formula": formula, "latency_ms": ms, "answered": bool(result),
                     "engine_ms": await engine_time(client, "hover")})
    return runs


def _per_token_ms(run, device: str, tokens: int) -> float:
    """(t(1 + n) − t(1)) / n in ms, each the best of two runs: decoding alone, without the prefill."""

    def best(n: int) -> float:
        fastest = float("inf")
        for _ in range(2):
            started = time.perf_counter()
            run(n)
            if device == "cuda":
                torch.cuda.synchronize()
            fastest = min(fastest, time.perf_counter() - started)
        return fastest

    return (best(1 + tokens) - best(1)) / tokens * 1000


def engine_decode_ms(naive: Naive, prompt: list[int], tokens: int = 32) -> dict:
    """Our decoding loops' time per token on the naive path's checkpoint and dtype: torch's (the server's own forward
    pass), the same loop on transformers' forward pass, and CTranslate2's."""
    from galactica_lsp.engine import opt
    from galactica_lsp.engine.ct2 import FAST_ENGINES, FastDecoder, convert, unusable
    from galactica_lsp.engine.decoding import DecodeSettings, generate
    from galactica_lsp.engine.devices import Placement

    def settings(n: int) -> DecodeSettings:
        return DecodeSettings(max_new_tokens=n, stop_token_ids=())

    ours = opt.load(naive.directory, naive.device, naive.model.dtype)
    theirs = TransformersForward(naive.model)
    result = {"torch": _per_token_ms(lambda n: generate(ours, prompt, settings(n), lambda ids: ""),
                                     naive.device, tokens),
              "torch, transformers' forward": _per_token_ms(lambda n: generate(theirs, prompt, settings(n),
                                                                               lambda ids: ""), naive.device, tokens)}
    dtype = str(naive.model.dtype).removeprefix("torch.")
    placement = Placement(naive.device, dtype, (0,), (naive.device,))
    for engine in FAST_ENGINES:
        if unusable(placement, engine) is None:
            path = convert(naive.directory, dtype)
            fast = FastDecoder(path, placement, naive.tokenizer, 4096, engine)
            result[engine] = _per_token_ms(lambda n: fast.generate(prompt, settings(n), lambda ids: ""),
                                           naive.device, tokens)
    return result


async def session(model: str, args, engine: str, document: str) -> dict:
    """The three scenarios against one server process with ``engine``."""
    settings = {"maxNewTokens": args.new_tokens, "timeLimit": 60.0, "explainMaxTokens":
                args.explain_tokens, "citationSuggestions": 5, "diversity": 1.0, "engine": engine}
    client = LspClient()
    started = time.perf_counter()
    await client.start(model, args.device, settings)
    await client.wait_ready()
    ready_s = time.perf_counter() - started
    first_ms, _ = await Document(client, "file:///bench/first.tex", document).ghost()
    typed = await typing(client, args, document)
    cites = await citations(client, args, document) if args.citations else []
    hover = await hovers(client, args) if args.hovers else []
    final_status = await client.status()
    await client.stop()
    return {"ready_s": ready_s, "first_ms": first_ms, "typed": typed, "cites": cites, "hover": hover,
            "status": final_status}


async def main_async(args) -> dict:
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    with temporary_directory() as tmp:
        model, what = prepare_model(args.model, Path(tmp))
        # The naive path in what from_pretrained loads by default (the checkpoint's float32) on a CPU, bf16 on a GPU.
        dtype = torch.float32 if args.device == "cpu" else torch.bfloat16
        document = build_document(args.doc_tokens)
        sessions = {engine: await session(model, args, engine, document) for engine in engines}

        # The naive path and the floor, after the servers have stopped (never competing for the cores).
        naive = Naive(model, args.device, dtype)
        floor = measure_floor(model, args.device, dtype)
        from galactica_lsp.engine.galactica import explain_prompt, reference_prompt

        first = sessions[engines[0]]
        served = first["typed"]["served"][: args.naive_samples]
        naive_typing = percentiles([naive.generate(k["text"], args.new_tokens)[0] for k in served])
        naive_cite = percentiles([naive.generate(reference_prompt(r["text"]), 48, num_beams=5,
                                                 num_return_sequences=5)[0] for r in first["cites"]])
        naive_hover = percentiles([naive.generate([2] + naive.encode(explain_prompt(h["formula"])),
                                                  args.explain_tokens)[0] for h in first["hover"]])
        prompt_ids = [2] + naive.encode(document)
        decode_ms = engine_decode_ms(naive, prompt_ids)
        naive_decode = (naive.generate(prompt_ids, 33)[0] - naive.generate(prompt_ids, 1)[0]) / 32
        naive_bf16_typing = None
        if args.device == "cpu":  # the naive path with bf16 weights too: how much of the gain is the dtype alone
            del naive
            half = Naive(model, args.device, torch.bfloat16)
            naive_bf16_typing = percentiles([half.generate(k["text"], args.new_tokens)[0] for k in served])
            del half

    doc_tokens = len(prompt_ids)
    result = {
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "cpus": torch.get_num_threads(), "device": args.device,
                    "gpu": torch.cuda.get_device_name() if args.device == "cuda" else None},
        "model": {"name": args.model, "what": what, "dtype": str(dtype).removeprefix("torch.")},
        "floor": floor,
        "naive": {"typing_ms": naive_typing, "typing_bf16_weights_ms": naive_bf16_typing,
                  "citations_beams5_ms": naive_cite, "hover_ms": naive_hover,
                  "decode_ms_per_token": round(naive_decode, 2)},
        "decode_ms_per_token": {
            **{engine: round(ms, 2) for engine, ms in decode_ms.items()},
            "naive_generate": round(naive_decode, 2), "floor": round(floor["decode_ms_per_token"], 2),
            "fastest_over_floor": ratio(min(decode_ms.values()), floor["decode_ms_per_token"]),
        },
        "engines": {},
    }
    for engine, run in sessions.items():
        typed, cites, hover = run["typed"], run["cites"], run["hover"]
        ours = percentiles([k["latency_ms"] for k in typed["served"]])
        cite_ours, hover_ours = percentiles([r["latency_ms"] for r in cites]), percentiles([h["latency_ms"] for h in hover])
        result["engines"][engine] = {
            "server": {"ready_s": round(run["ready_s"], 2), "first_request_ms": round(run["first_ms"], 1),
                       "engine": run["status"].get("engine"), "prefix_cache": run["status"].get("prefixCache"),
                       "latencies_ms": run["status"].get("latenciesMs")},
            "typing": {
                "document_tokens": doc_tokens, "interval_ms": args.interval, "new_tokens": args.new_tokens,
                "keys": [{k: v for k, v in key.items() if k != "text"} for key in typed["keys"]],
                "ours_served_ms": ours, "naive_ms": naive_typing,
                "floor_ms": floor_ms(floor, 2, args.new_tokens),
                "naive_floor_ms": floor_ms(floor, doc_tokens, args.new_tokens),
                "p50_ratio": ratio(ours["p50"], naive_typing["p50"]), "p95_ratio": ratio(ours["p95"], naive_typing["p95"]),
                "kinds": {kind: sum(k["kind"] == kind for k in typed["keys"]) for kind in ("suggestion", "superseded", "empty")},
                "server_overhead_ms": percentiles(typed["overheads"]),
                "typed_ahead": {"ms": percentiles([a["latency_ms"] for a in typed["ahead"]]),
                                "all_match": all(a["rest_matches"] for a in typed["ahead"]) if typed["ahead"] else None},
            },
            "citations": {"ours_ms": cite_ours, "naive_beams5_ms": naive_cite,
                          "p50_ratio": ratio(cite_ours["p50"], naive_cite["p50"]),
                          "items": [r["items"] for r in cites], "engine_ms": [r["engine_ms"] for r in cites],
                          "floor_ms": floor_ms(floor, 8, 48)},
            "hover": {"ours_ms": hover_ours, "naive_ms": naive_hover, "p50_ratio": ratio(hover_ours["p50"], naive_hover["p50"]),
                      "answered": [h["answered"] for h in hover], "floor_ms": floor_ms(floor, 16, args.explain_tokens)},
        }
    return result


def report(r: dict) -> str:
    def ms(p):
        return "-" if p["p50"] is None else f"p50 {p['p50']:7.1f} ms  p95 {p['p95']:7.1f} ms  (n={p['n']})"

    f, d, n = r["floor"], r["decode_ms_per_token"], r["naive"]
    engines = [e for e in ("torch", "torch, transformers' forward", "ctranslate2", "ctranslate2-int8") if e in d]
    lines = [
        f"{r['model']['name']} ({r['model']['what']}, {r['model']['dtype']}) on {r['machine']['device']}"
        f" [{r['machine']['processor']}, {r['machine']['cpus']} threads{', ' + r['machine']['gpu'] if r['machine']['gpu'] else ''}]",
        f"floor: {f['bandwidth_GBps']} GB/s, {f['matmul_GFLOPs']} GFLOP/s; {f['weight_bytes'] / 1e6:.0f} MB of weights:"
        f" decode ≥ {f['decode_ms_per_token']:.1f} ms/token, prefill ≥ {f['prefill_ms_per_token']:.2f} ms/token",
        "decode per token: " + ", ".join(f"ours/{e} {d[e]} ms" for e in engines)
        + f", generate() {d['naive_generate']} ms, floor {d['floor']} ms (fastest/floor {d['fastest_over_floor']})",
        f"naive generate(): typing {ms(n['typing_ms'])}; citations (beams=5) {ms(n['citations_beams5_ms'])};"
        f" hover {ms(n['hover_ms'])}",
    ]
    if n.get("typing_bf16_weights_ms"):
        lines.append(f"naive generate() with bf16 weights: typing {ms(n['typing_bf16_weights_ms'])}")
    for engine, e in r["engines"].items():
        t = e["typing"]
        lines += [
            "",
            f"== server with engine {engine}: ready in {e['server']['ready_s']} s; first request {e['server']['first_request_ms']} ms",
            f"typing ({t['document_tokens']}-token document, a key every {t['interval_ms']} ms, {t['new_tokens']} new tokens;"
            f" keys: {t['kinds']})",
            f"  ours (answered with a suggestion)  {ms(t['ours_served_ms'])}",
            f"  ratio ours/naive: p50 {t['p50_ratio']}  p95 {t['p95_ratio']};"
            f" floor {t['floor_ms']:.0f} ms (naive's floor {t['naive_floor_ms']:.0f} ms)",
            f"  server overhead (round trip − engine)  {ms(t['server_overhead_ms'])}",
            f"  typed ahead into the suggestion      {ms(t['typed_ahead']['ms'])}; rest matches: {t['typed_ahead']['all_match']}",
            f"citations (5 diverse suggestions, 48 tokens): ours {ms(e['citations']['ours_ms'])};"
            f" ratio to beams=5 p50 {e['citations']['p50_ratio']}; floor {e['citations']['floor_ms']:.0f} ms",
            f"hover (formula explanation): ours {ms(e['hover']['ours_ms'])}; ratio p50 {e['hover']['p50_ratio']};"
            f" floor {e['hover']['floor_ms']:.0f} ms",
        ]
    return "\n".join(lines)


def plot(r: dict, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(9, 4))
    colours = {"torch": "tab:blue", "ctranslate2": "tab:orange", "ctranslate2-int8": "tab:green"}
    for engine, e in r["engines"].items():
        keys = e["typing"]["keys"]
        served = [k for k in keys if k["kind"] == "suggestion"]
        others = [k for k in keys if k["kind"] != "suggestion"]
        ax.scatter([k["key"] for k in served], [k["latency_ms"] for k in served], s=14,
                   c=colours.get(engine, "tab:purple"), label=f"{engine}: answered with a suggestion")
        ax.scatter([k["key"] for k in others], [k["latency_ms"] for k in others], s=6, alpha=0.4,
                   c=colours.get(engine, "tab:purple"), label=f"{engine}: superseded or empty")
    naive = r["naive"]["typing_ms"]["p50"]
    if naive:
        ax.axhline(naive, color="tab:red", linestyle="--", label=f"naive generate() p50 {naive:.0f} ms")
    first = next(iter(r["engines"].values()))
    ax.axhline(first["typing"]["floor_ms"], color="black", linestyle=":", label="floor")
    ax.set_xlabel("keystroke")
    ax.set_ylabel("latency (ms)")
    ax.set_yscale("log")
    ax.set_title(f"Ghost text per keystroke: {r['model']['name']} on {r['machine']['device']}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="mini", help="a size of ../shared configs (random weights) or a checkpoint")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--doc-tokens", type=int, default=600)
    parser.add_argument("--interval", type=float, default=150, help="ms between keys")
    parser.add_argument("--chars", type=int, default=0, help="type only this many characters (0: the whole sentence)")
    parser.add_argument("--pause-every", type=int, default=3, help="words between pauses")
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--naive-samples", type=int, default=6, help="served keystrokes the naive path repeats")
    parser.add_argument("--citations", type=int, default=2)
    parser.add_argument("--hovers", type=int, default=2)
    parser.add_argument("--explain-tokens", type=int, default=48)
    parser.add_argument("--engines", default="torch,ctranslate2,ctranslate2-int8",
                        help="engines to run the server with, in turn")
    parser.add_argument("--out", default="typing_session", help="path stem of the .json and .png written")
    args = parser.parse_args()
    result = asyncio.run(main_async(args))
    print(report(result))
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1))
    drawn = plot(result, out.with_suffix(".png"))
    print(f"\nwrote {out.with_suffix('.json')}" + (f" and {out.with_suffix('.png')}" if drawn else
                                                   " (no plot: pip install matplotlib)"))


if __name__ == "__main__":
    main()
