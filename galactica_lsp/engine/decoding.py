"""The torch backend: greedy, sampling, beam search and diverse beam search.

Owns: :class:`TorchBackend`, the :class:`~.backend.Backend` that runs the
model (``opt.OPT``) in this process, and its decoding loops, which turn a
prompt's token ids into continuations with a model that keeps its KV cache
between steps. Written here rather than taken from ``generate()`` because the
server needs, at every step: a cancellation check (a cancelled request stops
within one token, or within one chunk of a long prompt's prefill), a
wall-clock cap, per-token log-probabilities of every returned sequence, and
Hamming-diverse beam search, which transformers 5 no longer ships. The prompt
is prefilled once, ``PREFILL_CHUNK`` tokens a forward pass; beams and samples
share that prefill by copying its cache rows. With a
:class:`~.prefix_cache.PrefixCache`, the prefill starts from the cache of the
longest stored prompt prefix and feeds only the tokens after it.

The model writes each step's keys and values into the cache in place
(``kv_cache.GrowingCache``): a stored prefill is a view of it.

Device is data: tensors go where the model's embeddings are; no branch here
knows whether that is a CPU, a GPU or MPS.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import torch

from .backend import Backend, Capabilities, Finisher, Hypothesis, check_prompt
from .galactica import PAD_ID
from .opt import OPT
from .precision import Precision, phase
from .prefix_cache import PrefixCache
from .types import STRATEGIES, Cancelled, Confidence, DecodeSettings, Generation  # noqa: F401 (re-exported)


PREFILL_CHUNK = 128  # prompt tokens per prefill forward pass: the cancel flag is checked between chunks


class TorchBackend(Backend):
    """The model in this process: every strategy, with prefix reuse through a :class:`PrefixCache`."""

    name = "torch"
    capabilities = Capabilities(prefix_reuse=True)

    def __init__(self, model, prefix_tokens: int, prefix_entries: int = 4, precision: Precision | None = None):
        self.model = model
        self.prefixes = PrefixCache(max_entries=prefix_entries, max_tokens=prefix_tokens)
        self.precision = precision  # each phase's matmul mode (``precision.phase``); None: as torch is set

    def generate(self, prompt_ids, settings, decode, cancelled=lambda: False, key=""):
        return generate(self.model, prompt_ids, settings, decode, cancelled, self.prefixes, key,
                        precision=self.precision)

    def forget(self) -> None:
        self.prefixes.clear()

    def status(self) -> dict:
        return {"prefixCache": self.prefixes.status()}


class _Stepper:
    """Feeds tokens to the model and keeps its cache (starting from ``prefix``'s keys and values); one forward per step."""

    def __init__(self, model: OPT, prefix: list[tuple[torch.Tensor, torch.Tensor]] | None = None):
        self.model = model
        self.cache = model.new_cache(prefix)

    def __call__(self, ids: torch.Tensor) -> torch.Tensor:
        """Log-probabilities of the next token for each row, float32, shape [rows, vocab]."""
        return torch.log_softmax(self.model(ids, self.cache).float(), dim=-1)

    def select_rows(self, rows: list[int]) -> None:
        """Keep (and copy) cache rows: beam reordering, or one prefill fanned out to N rows."""
        if rows == list(range(self.cache.layers[0].keys.shape[0])):
            return  # every row keeps its own prefix: one beam per diverse group does, at every step
        self.cache.reorder_cache(torch.tensor(rows, device=self.model.device))


def generate(
    model,
    prompt_ids: Sequence[int],
    settings: DecodeSettings,
    decode: Callable[[list[int]], str],
    cancelled: Callable[[], bool] = lambda: False,
    prefixes: PrefixCache | None = None,
    key: str = "",
    prefill_chunk: int = PREFILL_CHUNK,
    precision: Precision | None = None,
) -> list[Generation]:
    """Continue ``prompt_ids``; ``decode`` turns generated ids into text.

    The prompt is fed ``prefill_chunk`` tokens per forward pass.
    ``cancelled`` is polled before every forward pass; when it returns True the
    loop raises :class:`Cancelled`, and the cache is dropped with the stepper.
    With ``prefixes``, the prefill reuses the longest stored prefix and is
    stored under ``key`` for the next request (even when this one is then
    cancelled: the next keystroke's request still starts from it).
    With ``precision``, the prefill and the decoding steps each run in the
    matmul mode it gives them (see ``precision.phase``).
    """
    check_prompt(prompt_ids, cancelled)
    deadline = time.monotonic() + settings.time_limit if settings.time_limit else math.inf
    finisher = Finisher(settings, decode)
    # Prefill, for one row: the whole prompt, or only what follows a stored prefix.
    reused, prefix = prefixes.lookup(prompt_ids) if prefixes is not None else (0, [])
    step = _Stepper(model, prefix)
    # In chunks, with the cancel flag checked between them: a cancelled request frees the worker within a chunk.
    rest = list(prompt_ids[reused:])
    # One token after a stored prefix (a keystroke at the end) is a one-row step: it runs as decoding does.
    with phase(precision, "prefill" if len(rest) > 1 else "decode"):
        for start in range(0, len(rest), prefill_chunk):
            if start and cancelled():
                raise Cancelled()
            first = step(torch.tensor([rest[start : start + prefill_chunk]]))
    if prefixes is not None:
        prefixes.store(key, prompt_ids, step.cache)
    rows = settings.num_beams if settings.strategy == "beam" else (settings.num_return if settings.strategy == "sample"
                                                                    else 1)
    with phase(precision, "decode", rows):
        if settings.strategy == "beam":
            generations = _beam_search(step, first, settings, finisher, cancelled, deadline)
        else:
            generations = _sample(step, first, settings, finisher, cancelled, deadline)
    return [replace(g, prompt_tokens=len(prompt_ids), reused_tokens=reused) for g in generations]


def _pick(logprobs: torch.Tensor, settings: DecodeSettings, generator: torch.Generator | None) -> torch.Tensor:
    """Greedy: the most likely token. Sampling: temperature, then top-k, then nucleus (top-p)."""
    if settings.strategy == "greedy" or settings.temperature <= 0:
        return logprobs.argmax(dim=-1)
    scores = logprobs / settings.temperature
    if settings.top_k > 0:
        kth = torch.topk(scores, min(settings.top_k, scores.shape[-1])).values[:, -1:]
        scores = scores.masked_fill(scores < kth, -math.inf)
    if settings.top_p < 1.0:
        sorted_scores, order = scores.sort(dim=-1, descending=True)
        cumulative = sorted_scores.softmax(dim=-1).cumsum(dim=-1)
        drop = cumulative - sorted_scores.softmax(dim=-1) > settings.top_p  # keep the token that crosses top_p
        scores = scores.scatter(-1, order, sorted_scores.masked_fill(drop, -math.inf))
    return torch.multinomial(scores.softmax(dim=-1), 1, generator=generator).squeeze(-1)


def _sample(step, logprobs, settings, finisher, cancelled, deadline) -> list[Generation]:
    rows = settings.num_return if settings.strategy == "sample" else 1
    generator = None
    if settings.strategy == "sample" and settings.seed is not None:
        generator = torch.Generator(device=logprobs.device).manual_seed(settings.seed)
    if rows > 1:
        step.select_rows([0] * rows)  # one prefill, N independent continuations
        logprobs = logprobs.expand(rows, -1)
    hyps = [Hypothesis() for _ in range(rows)]
    for length in range(1, settings.max_new_tokens + 1):
        tokens = _pick(logprobs, settings, generator)
        chosen = logprobs.gather(-1, tokens[:, None]).squeeze(-1).tolist()
        for hyp, token, lp in zip(hyps, tokens.tolist(), chosen):
            if hyp.finish is None:
                hyp.ids.append(token)
                hyp.logprobs.append(lp)
                hyp.finish = finisher.reason(hyp.ids)
        if all(h.finish for h in hyps) or length == settings.max_new_tokens:
            break  # no forward pass for a token that would not be used
        if cancelled():
            raise Cancelled()
        if time.monotonic() > deadline:
            for hyp in hyps:
                hyp.finish = hyp.finish or "time"
            break
        # Finished rows are fed padding; their output is ignored.
        feed = [[t if h.finish is None else PAD_ID] for h, t in zip(hyps, tokens.tolist())]
        logprobs = step(torch.tensor(feed))
    return [finisher.result(h, h.finish or "length") for h in hyps]


def _beam_search(step, first, settings, finisher, cancelled, deadline) -> list[Generation]:
    """Beam search; with ``beam_groups`` > 1, Hamming-diverse beam search.

    Diverse beam search (Vijayakumar et al., 2016): the beams are split into
    groups that advance one after another at each step; a token that earlier
    groups chose at this step costs ``diversity`` per choice, so groups spread
    over different continuations. With one group it is plain beam search.
    """
    groups, per_group = settings.beam_groups, settings.num_beams // settings.beam_groups
    vocab = first.shape[-1]
    # rows[g]: the live hypotheses of group g, one per cache row; all groups start from the prompt row.
    rows: list[list[Hypothesis]] = [[Hypothesis()] for _ in range(groups)]
    parents: list[list[int]] = [[0] for _ in range(groups)]
    finished: list[list[Hypothesis]] = [[] for _ in range(groups)]
    done = [False] * groups
    logprobs = first
    for length in range(1, settings.max_new_tokens + 1):
        chosen_this_step = torch.zeros(vocab, device=logprobs.device)
        new_rows, new_parents = [], []
        for g in range(groups):
            if done[g]:
                new_rows.append(rows[g])
                new_parents.append(parents[g])
                continue
            # Candidates: every live hypothesis of the group times every token.
            group_lp = logprobs[parents[g]]
            scores = torch.tensor([h.score for h in rows[g]], device=logprobs.device)[:, None] + group_lp
            scores = scores - settings.diversity * chosen_this_step
            top = torch.topk(scores.flatten(), min(2 * per_group, scores.numel()))
            keep, keep_parents = [], []
            for rank, (score, flat) in enumerate(zip(top.values.tolist(), top.indices.tolist())):
                r, token = divmod(flat, vocab)
                if score == -math.inf:
                    break
                hyp = rows[g][r].extended(token, group_lp[r, token].item(), score)
                reason = finisher.reason(hyp.ids)
                if reason:
                    # As in the usual beam search: an ending counts only if it ranks among the beams.
                    if rank < per_group:
                        hyp.finish = reason
                        finished[g].append(hyp)
                    continue
                keep.append(hyp)
                keep_parents.append(parents[g][r])
                if len(keep) == per_group:
                    break
            for hyp in keep:
                chosen_this_step[hyp.ids[-1]] += 1
            done[g] = not keep or _group_done(finished[g], keep, per_group, length, settings.length_penalty)
            new_rows.append(keep or rows[g])
            new_parents.append(keep_parents or parents[g])
        rows = new_rows
        if all(done) or length == settings.max_new_tokens:
            break
        if cancelled():
            raise Cancelled()
        if time.monotonic() > deadline:
            _close_groups(rows, finished, done, "time")
            break
        # Reorder the cache so that row i holds the prefix of live hypothesis i, then step.
        flat_parents = [p for ps in new_parents for p in ps]
        step.select_rows(flat_parents)
        feed = [[h.ids[-1] if h.ids else PAD_ID] for hs in rows for h in hs]
        logprobs = step(torch.tensor(feed))
        parents, offset = [], 0
        for hs in rows:
            parents.append(list(range(offset, offset + len(hs))))
            offset += len(hs)
    _close_groups(rows, finished, done, "length")
    # Each group contributes its own best endings, so that diverse groups stay represented.
    best = [h for hs in finished for h in _best(hs, per_group, settings.length_penalty)]
    ranked = _best(best, len(best), settings.length_penalty)
    return [finisher.result(h, h.finish) for h in ranked[: settings.num_return]]


def _best(hyps, count, length_penalty) -> list[Hypothesis]:
    return sorted(hyps, key=lambda h: -h.normalised(length_penalty))[:count]


def _group_done(finished, live, per_group, length, length_penalty) -> bool:
    """A group is done when it has enough finished beams and no live one can beat them."""
    if len(finished) < per_group:
        return False
    worst_kept = sorted(h.normalised(length_penalty) for h in finished)[-per_group]
    best_live = max(sum(h.logprobs) for h in live) / length**length_penalty
    return best_live <= worst_kept


def _close_groups(rows, finished, done, reason) -> None:
    for g, hs in enumerate(rows):
        if not done[g]:
            for hyp in hs:
                if hyp.ids and hyp.finish is None:
                    hyp.finish = reason
                    finished[g].append(hyp)
