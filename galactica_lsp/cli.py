"""The ``galactica-lsp`` command.

Owns: argument parsing, the terminal commands (``complete``, ``cite``,
``explain``, ``models``; ``verify`` lives in ``verify/cli.py``), the progress
bar on stderr, and turning every failure into one clear line on stderr with a
non-zero exit status. With no
command it starts the language server on stdio (or TCP/WebSocket).

The defaults are the settings' (:class:`~.settings.Settings`), and so are the
checks: a value the server would refuse is a usage error here, before any
model is loaded. Importing this module (and ``--help``) loads no torch.

Exit statuses: 0 done, 1 anything else, 2 usage (a bad option or value, an
empty or binary text), 3 model not found (unknown name, missing directory,
not cached with no route to the hub), 4 does not fit in memory, 5 device or
engine unavailable, 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from .analysis.context import looks_binary
from .engine.catalogue import SIZES, TINY, human_bytes
from .engine.ct2 import ENGINES, EngineError, choose, weight_share
from .engine.devices import DEVICES, DTYPES, DeviceError, normalise_dtype, place
from .engine.loading import ModelError
from .engine.memory import DoesNotFitError, estimate, kv_bytes_per_token
from .engine.precision import sized
from .engine.types import DecodeSettings, Progress
from .engine.vllm_backend import REMOTE_ENGINES
from .settings import Settings, problem
from .verify import cli as verify_cli

log = logging.getLogger("galactica_lsp")

DEFAULTS = Settings()
DEFAULT_MODEL = DEFAULTS.model
CITE_TOKENS = 48  # what the server asks for a reference
# Exit statuses: 2 is argparse's for usage errors.
EXIT_ERROR, EXIT_USAGE, EXIT_MODEL, EXIT_FIT, EXIT_DEVICE = 1, 2, 3, 4, 5


class UsageError(ValueError):
    """A value or a text the command cannot run with; said before any model is loaded."""


def _common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Options every command takes; on sub-commands they default to 'not given' so the top level's value stays."""
    default = (lambda v: argparse.SUPPRESS) if suppress else (lambda v: v)
    parser.add_argument("--model", default=default(DEFAULT_MODEL),
                        help=f"a size ({', '.join([*SIZES, TINY])}), a hub id or a local directory (default {DEFAULT_MODEL})")
    parser.add_argument("--device", default=default(DEFAULTS.device), choices=list(DEVICES))
    parser.add_argument("--dtype", default=default(DEFAULTS.dtype), choices=list(DTYPES) + ["fp32", "fp16", "bf16"])
    parser.add_argument("--engine", default=default(DEFAULTS.engine), choices=list(ENGINES + REMOTE_ENGINES),
                        help="what decodes greedy and sampled text: auto (torch), torch, ctranslate2, "
                             "or ctranslate2-int8 (int8 weights, faster on a CPU); beams always run on torch; "
                             "vllm: everything on the vLLM server at --endpoint")
    parser.add_argument("--endpoint", default=default(DEFAULTS.endpoint),
                        help="with --engine vllm: the server's URL (API key: $GALACTICA_LSP_API_KEY)")
    parser.add_argument("--max-new-tokens", type=int, default=default(None),
                        help=f"tokens to generate (default: complete {DEFAULTS.max_new_tokens}, cite {CITE_TOKENS},"
                             f" explain {DEFAULTS.explain_max_tokens}, as in the server)")
    parser.add_argument("--context-tokens", type=int, default=default(DEFAULTS.context_tokens),
                        help=f"prompt budget in tokens: the text is cut from its start to fit (default"
                             f" {DEFAULTS.context_tokens}, the contextTokens setting's)")
    parser.add_argument("-v", "--verbose", action="count", default=default(0), help="log to stderr (-vv for debug)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="galactica-lsp",
        description="Galactica as a language server; with a command, a one-off run in the terminal.",
    )
    _common(parser, suppress=False)
    parser.add_argument("--tcp", action="store_true", help="serve over TCP instead of stdio")
    parser.add_argument("--ws", action="store_true", help="serve over WebSocket instead of stdio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2087)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    complete = commands.add_parser("complete", help="continue TEXT ('-' reads stdin)")
    complete.add_argument("text")
    complete.add_argument("--suggestions", type=int, default=1,
                          help="continuations (default 1: greedy; more: beams at temperature 0, else samples)")
    complete.add_argument("--temperature", type=float, default=DEFAULTS.temperature,
                          help=f"sampling temperature for several suggestions (default {DEFAULTS.temperature}: beams)")
    complete.add_argument("--seed", type=int, default=None)

    cite = commands.add_parser("cite", help="suggest references for the end of TEXT ('-' reads stdin), one per line "
                                            "with its confidence")
    cite.add_argument("text")
    cite.add_argument("--suggestions", type=int, default=DEFAULTS.citation_suggestions)
    cite.add_argument("--diversity", type=float, default=DEFAULTS.diversity,
                      help="diverse beam search penalty (0: plain beams)")

    explain = commands.add_parser("explain", help="explain a LaTeX FORMULA ('-' reads stdin)")
    explain.add_argument("formula")
    explain.add_argument("--mode", choices=["explain", "work", "sympy"], default="explain",
                         help="plain English, step by step (<work>), or SymPy code")

    commands.add_parser("models", help="the Galactica sizes with their memory needs here, and whether each fits")
    verify_cli.add_parser(commands)
    for sub in (complete, cite, explain, commands.choices["models"]):
        _common(sub, suppress=True)
    return parser


def _text(value: str) -> str:
    """TEXT, or stdin for '-'; an empty or binary text is a usage error."""
    where = "stdin" if value == "-" else "TEXT"
    if value == "-":
        data = sys.stdin.buffer.read()
        try:
            value = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UsageError(f"stdin is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None
    if looks_binary(value):
        raise UsageError(f"{where} looks binary (NUL or control bytes), not text")
    if not value.strip():
        raise UsageError(f"{where} is empty: give the text to work on")
    return value


def _check(args) -> None:
    """The command's values, checked by the settings' own rules; raises :class:`UsageError` on the first bad one."""
    dtype = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}.get(args.dtype, args.dtype)
    checks = [("--model", "model", args.model), ("--dtype", "dtype", dtype),
              ("--context-tokens", "context_tokens", args.context_tokens), ("--endpoint", "endpoint", args.endpoint)]
    if args.command == "complete":
        checks += [("--suggestions", "suggestions", args.suggestions), ("--temperature", "temperature", args.temperature)]
    if args.command == "cite":
        checks += [("--suggestions", "citation_suggestions", args.suggestions), ("--diversity", "diversity", args.diversity)]
    if args.max_new_tokens is not None:
        checks.append(("--max-new-tokens", "explain_max_tokens" if args.command == "explain" else "max_new_tokens",
                       args.max_new_tokens))
    for flag, name, value in checks:
        reason = problem(name, value)
        if reason:
            raise UsageError(f"{flag}: {reason}")


class _ProgressBar:
    """Load progress on stderr: a redrawn bar on a terminal, log lines otherwise."""

    def __init__(self):
        self.tty = sys.stderr.isatty()

    def __call__(self, progress: Progress) -> None:
        if not self.tty:
            log.info("%s", progress.message)
            return
        fraction = progress.fraction
        if fraction is None:
            sys.stderr.write(f"\r\033[K{progress.message}")
        else:
            filled = int(30 * fraction)
            amount = f"{human_bytes(progress.done)}/{human_bytes(progress.total)}"
            sys.stderr.write(f"\r\033[K[{'#' * filled}{'.' * (30 - filled)}] {amount} {progress.message}")
        if progress.stage == "ready":
            sys.stderr.write("\n")
        sys.stderr.flush()


def _models_table(args) -> str:
    placement = place(args.device, args.dtype)
    engine = choose(args.engine, placement)
    share = weight_share(engine, placement)
    rows = [("size", "hub id", "params", "layers", "heads", "head", "dtype", "weights", "KV/token", "needs", "fits")]
    dtypes = set()
    for entry in SIZES.values():
        shape = entry.shape
        here = sized(placement, normalise_dtype(args.dtype), engine, shape.parameters)  # a CPU's auto dtype: by size
        dtypes.add(here.dtype)
        plan = estimate(shape, here, args.context_tokens, second_engine=share)
        rows.append((
            entry.name, entry.hub_id, entry.label, str(shape.num_layers), str(shape.num_heads), str(shape.head_size),
            here.dtype, human_bytes(plan.weights), human_bytes(kv_bytes_per_token(shape, here)),
            human_bytes(plan.total), "yes" if plan.fits else "no",
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    free = human_bytes(max(placement.free_bytes))
    engines = f" (torch and {engine}: two sets of weights and caches)" if share else " (torch)"
    where = (placement.describe() if dtypes == {placement.dtype} else
             f"{placement.kind} ({', '.join(placement.names)}), {' or '.join(sorted(dtypes))} (auto: by size)")
    lines.append(f"\n{where}: {free} free; needs = weights + KV cache for "
                 f"{args.context_tokens} tokens + working memory{engines}")
    return "\n".join(lines)


def _run_command(args) -> int:
    from .engine.service import Engine

    _check(args)
    if args.command == "models":
        sys.stdout.write(_models_table(args) + "\n")
        return 0
    text = _text(args.text if args.command != "explain" else args.formula)
    sequences = _cite_beams(args.suggestions) if args.command == "cite" else getattr(args, "suggestions", 1)
    tokens = _new_tokens(args)
    engine = Engine()
    try:
        engine.load(args.model, device=args.device, dtype=args.dtype, engine=args.engine, endpoint=args.endpoint,
                    context_tokens=args.context_tokens + tokens, sequences=sequences, report=_ProgressBar())
        if args.command == "complete":
            out = _complete(engine, args, text, tokens)
        elif args.command == "cite":
            out = _cite(engine, args, text, tokens)
        else:
            gen = engine.call(lambda g, c: g.explain(text, args.mode, tokens, c, budget=args.context_tokens),
                              "explain")
            out = gen.text
    finally:
        engine.shutdown()
    sys.stdout.write(out + "\n")
    return 0


def _new_tokens(args) -> int:
    """--max-new-tokens, or the server's figure for the command."""
    if args.max_new_tokens is not None:
        return args.max_new_tokens
    return {"complete": DEFAULTS.max_new_tokens, "cite": CITE_TOKENS}.get(args.command, DEFAULTS.explain_max_tokens)


def _complete(engine, args, text: str, tokens: int) -> str:
    """One greedy continuation, or several: beams at temperature 0, samples above it (as the server does)."""
    n = args.suggestions
    strategy = "greedy" if n == 1 else ("sample" if args.temperature > 0 else "beam")
    settings = DecodeSettings(
        strategy=strategy,
        num_return=n,
        num_beams=n if strategy == "beam" else 1,
        max_new_tokens=tokens,
        temperature=args.temperature or 1.0,
        top_p=DEFAULTS.top_p,
        top_k=DEFAULTS.top_k,
        seed=args.seed,
    )
    gens = engine.call(lambda g, c: g.complete(text, settings, c, budget=args.context_tokens), "complete")
    return "\n---\n".join(g.text for g in gens)


def _cite_beams(asked: int) -> int:
    """Beams for a second search when the first gave fewer distinct references: twice as many, within the
    ``citationSuggestions`` bounds (what the memory plan already allows for)."""
    return max(n for n in range(asked, 2 * asked + 1) if problem("citation_suggestions", n) is None)


def _cite(engine, args, text: str, tokens: int) -> str:
    """One line per suggestion (probability, tab, "Title, Author"), ``--suggestions`` of them, distinct.

    When the beams give fewer distinct references (several close the same one, some close none), the search runs
    once more with twice the beams and the most probable ``--suggestions`` of both searches are kept; a last line
    in brackets says why when there are still fewer.
    """
    asked = args.suggestions

    def search(beams: int):
        return engine.call(lambda g, c: g.cite_counted(text, beams, args.diversity, tokens, c,
                                                       budget=args.context_tokens), "cite")

    found = search(asked)
    wider = _cite_beams(asked)
    if len(found.suggestions) < asked and wider > asked:
        found = found.merged(search(wider))
    # One line each, whatever the model wrote inside a reference.
    lines = [f"{s.confidence.probability:.2f}\t{' '.join(s.text.split())}" for s in found.suggestions[:asked]]
    why = found.why_fewer(asked)
    if why is not None:
        lines.append(f"({why})" if lines else f"(no suggestion: {why})")
    return "\n".join(lines)


def _serve(args) -> int:
    try:
        from .server import serve
    except ImportError:
        sys.stderr.write("galactica-lsp: the language server is not built yet; use a command (see --help)\n")
        return EXIT_ERROR
    return serve(args)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.verbose < 2:
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    if args.command == "verify":  # no model: the network only
        return verify_cli.run(args)
    try:
        return _run_command(args) if args.command else _serve(args)
    except UsageError as exc:
        status, message = EXIT_USAGE, str(exc)
    except ModelError as exc:
        status, message = EXIT_MODEL, str(exc)
    except DoesNotFitError as exc:
        status, message = EXIT_FIT, str(exc)
    except (DeviceError, EngineError) as exc:
        status, message = EXIT_DEVICE, str(exc)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # anything else still gets one line, not a traceback
        log.debug("failed", exc_info=True)
        status, message = EXIT_ERROR, f"{type(exc).__name__}: {exc}"
    sys.stderr.write(f"galactica-lsp: error: {message}\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
