"""The CTranslate2 engine: the same greedy and sampled decoding, faster on a CPU.

Owns: which engine serves (``auto``, ``torch``, ``ctranslate2`` or
``ctranslate2-int8``) on a placement; converting a loaded checkpoint into CTranslate2's format once, into
a cache directory named by the checkpoint's files; the check that its greedy
output equals the torch engine's; and :class:`FastDecoder`, which decodes
greedily or by sampling through a ``ctranslate2.Generator`` with the same
cancellation, stop tokens, stop strings, wall-clock cap and per-token
log-probabilities as :mod:`.decoding`, and reuses prompt prefixes through
CTranslate2's static-prompt cache.

Beam search, plain and diverse, stays with the torch engine: CTranslate2 has no
diverse beams, and its beam search calls back only at the end, so a cancelled
request could not stop within a token. So does sampling with a seed: its
random generator is seeded once per thread, not per request. Its static-prompt cache never forgets
an entry, so :class:`FastDecoder` counts what it holds and opens a fresh
generator (an empty cache) when the memory plan's KV budget is spent.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from .backend import Backend, Capabilities, Finisher, Hypothesis, check_prompt
from .devices import Placement
from .types import Cancelled, DecodeSettings, Generation

log = logging.getLogger(__name__)

ENGINES = ("auto", "torch", "ctranslate2", "ctranslate2-int8")
FAST_ENGINES = ("ctranslate2", "ctranslate2-int8")
# int8 weights, activations in the placement's float type.
_INT8 = {"float32": "int8_float32", "float16": "int8_float16", "bfloat16": "int8_bfloat16"}
# Static prompts end on a multiple of this many tokens, so that successive keystrokes share one.
BLOCK = 64
_FORMAT = 1  # bump when the conversion changes, so that old cache directories are not reused


class EngineError(ValueError):
    """The engine asked for cannot run here (not installed, no backend for the device or dtype)."""


def compute_type(engine: str, placement: Placement) -> str:
    """CTranslate2's compute type: the placement's dtype, or int8 weights with it for ``ctranslate2-int8``."""
    return _INT8[placement.dtype] if engine == "ctranslate2-int8" else placement.dtype


def weight_share(engine: str, placement: Placement) -> float:
    """The second engine's weights as a share of the torch model's: 1 for the same dtype, less for int8."""
    if engine not in FAST_ENGINES:
        return 0.0
    if engine == "ctranslate2-int8":
        return 1 / {"float32": 4, "float16": 2, "bfloat16": 2}[placement.dtype]
    return 1.0


def unusable(placement: Placement, engine: str = "ctranslate2") -> str | None:
    """Why CTranslate2 cannot serve this placement, or None when it can (a split over GPUs: see ``loading``)."""
    try:
        import ctranslate2
    except ImportError:
        return "the ctranslate2 package is not installed (pip install ctranslate2)"
    if placement.kind == "mps":
        return "CTranslate2 has no Apple MPS backend"
    if placement.kind == "cuda" and ctranslate2.get_cuda_device_count() == 0:
        return "this CTranslate2 build sees no CUDA device"
    supported = ctranslate2.get_supported_compute_types(placement.kind)
    wanted = compute_type(engine, placement)
    if wanted not in supported:
        return f"CTranslate2 cannot compute in {wanted} on {placement.kind} here (it can: {', '.join(sorted(supported))})"
    return None


def choose(requested: str, placement: Placement) -> str:
    """The engine for ``requested`` on ``placement``; a named engine that cannot run here is refused.

    ``auto`` is torch. CTranslate2 in float32 was the faster decoder while the
    torch engine concatenated its cache and slept between operations; once it
    reused prompts token for token and grew its cache in place, torch was
    faster on this project's 2-core CPU (galactica-125m shape: 31.8 against
    36.2 ms a token; ghost text 1.03 against 1.26 s; hover 1.42 against
    1.58 s), without a second copy of the weights or a conversion at first
    start. int8 weights are faster still but may change what is written, so
    they are asked for by name. Since a large model loads in bf16 on a CPU with
    bf16 units (``precision.auto_cpu_dtype``), torch is also faster than
    CTranslate2 int8 there (125m shape: 15 against 19 ms a token); a
    CTranslate2 engine keeps float32 under ``dtype`` auto (``precision.sized``).
    """
    if requested not in ENGINES:
        raise EngineError(f"unknown engine {requested!r}: choose one of {', '.join(ENGINES)}")
    if requested in ("auto", "torch"):
        return "torch"
    reason = unusable(placement, requested)
    if reason:
        raise EngineError(f"the {requested} engine cannot run here: {reason}")
    return requested


# -- conversion -------------------------------------------------------------


def cache_root() -> Path:
    """Where converted models are kept: $GALACTICA_LSP_CACHE, else the user's cache directory."""
    explicit = os.environ.get("GALACTICA_LSP_CACHE")
    if explicit:
        return Path(explicit).expanduser() / "ctranslate2"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "galactica-lsp" / "ctranslate2"


def cache_key(directory: str, dtype: str) -> str:
    """A name for the converted model: the checkpoint's files (path, size, time), the dtype, CTranslate2's version."""
    import ctranslate2

    root = Path(directory).resolve()
    files = []
    for path in sorted(root.iterdir()):
        if path.is_file():
            stat = path.stat()  # follows the hub cache's symbolic links to the blobs
            files.append([path.name, stat.st_size, stat.st_mtime_ns])
    description = {"directory": str(root), "files": files, "dtype": dtype, "ctranslate2": ctranslate2.__version__,
                   "format": _FORMAT}
    digest = hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:16]
    return f"{root.name}-{dtype}-{digest}"


def convert(directory: str, dtype: str, report: Callable[[str], None] = lambda m: None) -> Path:
    """The CTranslate2 copy of the checkpoint in ``directory``: from the cache, else converted now (once).

    The converter reads the checkpoint with transformers (the server's own
    forward pass, ``opt``, does not need it): a second read of the weights,
    once per checkpoint and dtype.
    """
    target = cache_root() / cache_key(directory, dtype)
    if (target / "model.bin").is_file():
        report(f"using the converted model in {target}")
        return target
    from ctranslate2.converters import TransformersConverter

    from .galactica import configure_tokenizer

    class GalacticaConverter(TransformersConverter):
        """Galactica's special tokens set on the tokenizer the converter reads (the hub's files leave them out)."""

        def load_tokenizer(self, tokenizer_class, model_name_or_path, **kwargs):
            return configure_tokenizer(super().load_tokenizer(tokenizer_class, model_name_or_path, **kwargs))

    report(f"converting the model for CTranslate2 (once; kept in {target})")
    started = time.monotonic()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    try:
        GalacticaConverter(directory).convert(str(partial), force=True)
        # The converter copies the tokenizer's special tokens, and Galactica's tokenizer files name no unknown token.
        config_path = partial / "config.json"
        config = json.loads(config_path.read_text())
        config.update(bos_token="<s>", eos_token="</s>", unk_token="<unk>")
        config_path.write_text(json.dumps(config, indent=2))
        try:
            os.replace(partial, target)
        except OSError:  # another process converted it meanwhile
            if not (target / "model.bin").is_file():
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    log.info("converted %s for CTranslate2 in %.1f s into %s", directory, time.monotonic() - started, target)
    return target


# -- decoding ---------------------------------------------------------------


class FastDecoder(Backend):
    """Greedy and sampled decoding through a ``ctranslate2.Generator``; called on the worker thread only.

    Greedy, and sampling without a seed: CTranslate2's random generator cannot be re-seeded per request.
    """

    capabilities = Capabilities(strategies=frozenset({"greedy", "sample"}), seeded_sampling=False,
                                diverse_beams=False, prefix_reuse=True)

    def __init__(self, path: Path, placement: Placement, tokenizer, max_cached_tokens: int,
                 engine: str = "ctranslate2"):
        self.name = engine
        self.compute_type = compute_type(engine, placement)
        self.path = path
        self.placement = placement
        self.tokenizer = tokenizer
        self.max_cached_tokens = max_cached_tokens
        self.cached: set[tuple[int, ...]] = set()  # the static prompts CTranslate2 holds a state for
        self.cached_tokens = 0
        self.resets = 0
        self.generator = self._open()

    def _reset(self) -> None:
        """Forget every static prompt; the generator that held their states is opened again when next needed."""
        self.generator = None
        self.cached.clear()
        self.cached_tokens = 0

    def _open(self):
        import ctranslate2
        import torch

        threads = torch.get_num_threads() if self.placement.kind == "cpu" else 0
        return ctranslate2.Generator(
            str(self.path), device=self.placement.kind, compute_type=self.compute_type, intra_threads=threads
        )

    def _static_prompt(self, prompt_ids: Sequence[int]) -> tuple[tuple[int, ...], bool]:
        """The prompt's start up to the last block boundary before its last token, and whether it is cached.

        Keystrokes that change only the prompt's last block share this start,
        and CTranslate2 serves its keys and values from the cache; a new one
        is computed whole (CTranslate2 cannot extend a cached state).
        """
        cut = min((len(prompt_ids) - 1) // BLOCK * BLOCK, self.max_cached_tokens // BLOCK * BLOCK)
        static = tuple(prompt_ids[:cut])
        if static and static not in self.cached:
            if self.cached_tokens + len(static) > self.max_cached_tokens:
                # CTranslate2 keeps every static prompt's state: start again with an empty cache.
                self._reset()
                self.resets += 1
            self.cached.add(static)
            self.cached_tokens += len(static)
            return static, False
        return static, bool(static)

    def generate(
        self,
        prompt_ids: Sequence[int],
        settings: DecodeSettings,
        decode: Callable[[list[int]], str],
        cancelled: Callable[[], bool] = lambda: False,
        key: str = "",
    ) -> list[Generation]:
        """Continue ``prompt_ids`` as the torch backend would, for the greedy and sample strategies.

        ``key`` is not needed: the static prompts are found by their tokens.
        """
        if not self.handles(settings):
            raise ValueError(f"the ctranslate2 engine does not run {settings.strategy!r} decoding"
                             f"{' with a seed' if settings.seed is not None else ''}; the torch engine does")
        check_prompt(prompt_ids, cancelled)
        deadline = time.monotonic() + settings.time_limit if settings.time_limit else float("inf")
        finisher = Finisher(settings, decode)
        rows = settings.num_return if settings.strategy == "sample" else 1
        hyps = [Hypothesis() for _ in range(rows)]
        stopped = {"cancelled": False}

        def on_token(step) -> bool:
            """Called by CTranslate2 after each token of each row; True stops that row."""
            hyp = hyps[step.batch_id]
            if hyp.finish:
                return True
            hyp.ids.append(step.token_id)
            hyp.logprobs.append(step.log_prob)
            hyp.finish = finisher.reason(hyp.ids)
            if hyp.finish:
                return True
            if cancelled():
                stopped["cancelled"] = True
                return True
            if time.monotonic() > deadline:
                hyp.finish = "time"
                return True
            return False

        if settings.strategy == "greedy" or settings.temperature <= 0:
            sampling = {"sampling_topk": 1}
        else:
            sampling = {"sampling_topk": settings.top_k, "sampling_topp": settings.top_p,
                        "sampling_temperature": settings.temperature}
        static, reused = self._static_prompt(prompt_ids)
        tokens = self.tokenizer.convert_ids_to_tokens(list(prompt_ids))
        if self.generator is None:
            self.generator = self._open()
        self.generator.generate_batch(
            [tokens[len(static):]] * rows,
            static_prompt=tokens[: len(static)] or None,
            max_length=settings.max_new_tokens,
            include_prompt_in_result=False,
            end_token=list(settings.stop_token_ids),
            return_end_token=True,
            return_scores=True,  # the per-token log-probabilities the callback reads
            callback=on_token,
            **sampling,
        )
        if stopped["cancelled"]:
            raise Cancelled()
        return [
            replace(finisher.result(h, h.finish or "length"), prompt_tokens=len(prompt_ids),
                    reused_tokens=len(static) if reused else 0, engine=self.name)
            for h in hyps
        ]

    def forget(self) -> None:
        """An empty static-prompt cache: CTranslate2 forgets a state only with its generator."""
        if self.cached:
            self._reset()

    def status(self) -> dict:
        return {"staticPromptCache": self._cache_status()}

    def _cache_status(self) -> dict:
        return {"computeType": self.compute_type, "staticPrompts": len(self.cached), "tokens": self.cached_tokens, "maxTokens": self.max_cached_tokens,
                "resets": self.resets}


def check_matches(fast: FastDecoder, torch_generate: Callable[[list[int], DecodeSettings], list[Generation]],
                  prompt_ids: list[int], tokens: int = 8) -> str | None:
    """Greedy decoding by both engines on one prompt; a description of the difference, or None when equal."""
    settings = DecodeSettings(max_new_tokens=tokens, stop_token_ids=())
    ours = fast.generate(prompt_ids, settings, lambda ids: "")[0].token_ids
    reference = torch_generate(prompt_ids, settings)[0].token_ids
    if ours == reference:
        return None
    return f"greedy tokens differ: ctranslate2 {list(ours)}, torch {list(reference)}"
