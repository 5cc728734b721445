"""The remote engine: Galactica served by vLLM, behind the backend seam.

Owns: :class:`VllmBackend`, which turns the tasks' token ids and
:class:`~.types.DecodeSettings` into vLLM ``/v1/completions`` requests (through
``remote.RemoteClient``) and vLLM's choices back into
:class:`~.types.Generation` s with the local stop rules (:class:`~.backend.Finisher`);
and the way distinct citations are found over it.

- Greedy and sampled requests stream, so a cancelled request closes its
  connection and vLLM aborts it within a few tokens; per-token
  log-probabilities come back for every token (the confidence figures).
- Plain beams are vLLM's ``use_beam_search`` with ``n``. vLLM's beam search
  stops only at the tokenizer's eos, which Galactica's tokenizer does not
  name, so each beam is cut here at its first stop id.
- Diverse beams (citations): vLLM ignores ``num_beam_groups`` and
  ``diversity_penalty``, so groups become *branches*: one request reads the
  top first tokens after the prompt, then one batched request continues each
  of the ``beam_groups`` most likely first tokens (greedily, or with beams
  when a group has several), each stopping at ``[END_REF]``. Different first
  tokens are different continuations, as the Hamming penalty aims for, and each
  branch is decoded with the stop ids it needs. On the tiny model this finds
  every paper of a shared context where vLLM's beams find one (see
  ``tests/remote/test_vllm_backend.py``).

Prefix reuse is vLLM's automatic prefix caching (the server's side; the
prompts stay prefix-stable across keystrokes by ``Galactica.encode``);
``reused_tokens`` is what vLLM reports as cached when the server runs with
``--enable-prompt-tokens-details``, else 0. No torch here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace

from typing import TYPE_CHECKING

from .backend import Backend, CancelCheck, Capabilities, Decode, Finisher, Hypothesis, check_prompt
from .catalogue import ModelShape
from .devices import Placement
from .tokenizer import load_tokenizer
from .memory import MemoryPlan
from .remote import Aborted, Choice, Completion, RemoteClient, RemoteError, ServedModel, api_key_from_env, completion_body
from .types import Cancelled, DecodeSettings, Generation, Progress, ProgressCallback

if TYPE_CHECKING:
    from .loading import LoadedModel

log = logging.getLogger(__name__)

MAX_LOGPROBS = 20  # vLLM's default --max-logprobs: the most first tokens one request can show


class VllmBackend(Backend):
    """Decoding on a vLLM server; one call at a time, on the worker thread."""

    name = "vllm"
    capabilities = Capabilities(prefix_reuse=True)

    def __init__(self, client: RemoteClient, model: str, max_model_len: int | None = None):
        self.client, self.model, self.max_model_len = client, model, max_model_len
        self.requests = 0  # HTTP completion requests sent
        self.prompt_tokens = 0
        self.cached_tokens = 0  # of them, what vLLM's prefix cache served (when the server reports it)
        self.last_error: str | None = None

    def generate(
        self,
        prompt_ids: Sequence[int],
        settings: DecodeSettings,
        decode: Decode,
        cancelled: CancelCheck = lambda: False,
        key: str = "",
    ) -> list[Generation]:
        check_prompt(prompt_ids, cancelled)
        deadline = time.monotonic() + settings.time_limit if settings.time_limit else None
        finisher = Finisher(settings, decode)
        prompt = list(prompt_ids)
        try:
            if settings.strategy == "beam" and settings.beam_groups > 1 and settings.diversity > 0:
                hyps, reply = self._branches(prompt, settings, finisher, cancelled, deadline)
            elif settings.strategy == "beam":
                hyps, reply = self._beams(prompt, settings, finisher, cancelled, deadline)
            else:
                hyps, reply = self._sample(prompt, settings, finisher, cancelled, deadline)
        except Aborted:
            raise Cancelled() from None
        except Exception as exc:
            self.last_error = str(exc)
            raise
        self.last_error = None
        reused = reply.cached_tokens or 0
        return [replace(finisher.result(h, h.finish), engine=self.name, prompt_tokens=len(prompt), reused_tokens=reused)
                for h in hyps]

    def status(self) -> dict:
        return {"vllm": {"endpoint": self.client.url, "servedModel": self.model, "maxModelLen": self.max_model_len,
                         "requests": self.requests, "promptTokens": self.prompt_tokens,
                         "cachedTokens": self.cached_tokens, "lastError": self.last_error}}

    # -- the requests -----------------------------------------------------------------------------

    def _send(self, body: dict, cancelled: CancelCheck, deadline: float | None, stream: bool = True) -> Completion:
        reply = self.client.complete(body, cancelled, deadline, stream)
        self.requests += 1
        self.prompt_tokens += reply.prompt_tokens
        self.cached_tokens += reply.cached_tokens or 0
        return reply

    def _body(self, prompt, settings: DecodeSettings, max_tokens: int | None = None, **extra) -> dict:
        return completion_body(self.model, prompt, max_tokens or settings.max_new_tokens, settings.stop_token_ids,
                               stop=settings.stop_strings, **extra)

    def _sample(self, prompt, settings, finisher, cancelled, deadline):
        """Greedy, or ``num_return`` samples (vLLM's seed makes them repeatable), streamed."""
        if settings.strategy == "sample" and settings.temperature > 0:
            body = self._body(prompt, settings, n=settings.num_return, temperature=settings.temperature,
                              top_p=settings.top_p, top_k=settings.top_k, seed=settings.seed)
        else:
            body = self._body(prompt, settings)
        reply = self._send(body, cancelled, deadline)
        return [self._hypothesis(c, finisher, reply.timed_out) for c in reply.choices], reply

    def _beams(self, prompt, settings, finisher, cancelled, deadline):
        """vLLM's beam search (not streamed: vLLM streams no beams), each beam cut at its first stop id."""
        body = self._body(prompt, settings, n=settings.num_beams, beam_search=True,
                          length_penalty=settings.length_penalty)
        reply = self._send(body, cancelled, deadline, stream=False)
        hyps = _distinct([self._hypothesis(_cut(c, settings.stop_token_ids), finisher, reply.timed_out)
                          for c in reply.choices])
        return _ranked(hyps, settings)[: settings.num_return], reply

    def _branches(self, prompt, settings, finisher, cancelled, deadline):
        """One branch per group: the ``beam_groups`` most likely first tokens, each continued in one batched request."""
        groups, per_group = settings.beam_groups, settings.num_beams // settings.beam_groups
        probe = self._send(self._body(prompt, settings, max_tokens=1, top_logprobs=min(MAX_LOGPROBS, groups)),
                           cancelled, deadline)
        if probe.timed_out or not probe.choices or not probe.choices[0].top_logprobs:
            return [], probe
        ranked = sorted(probe.choices[0].top_logprobs[0].items(), key=lambda item: -item[1])[:groups]
        hyps, open_branches = [], []
        for token, logprob in ranked:
            first = Hypothesis([token], [logprob])
            first.finish = finisher.reason(first.ids)
            (hyps if first.finish else open_branches).append(first)
        reply = probe
        if open_branches and settings.max_new_tokens > 1:
            prompts = [prompt + b.ids for b in open_branches]
            rest = settings.max_new_tokens - 1
            if per_group > 1:
                body = self._body(prompts, settings, rest, n=per_group, beam_search=True,
                                  length_penalty=settings.length_penalty)
                reply = self._send(body, cancelled, deadline, stream=False)
            else:
                reply = self._send(self._body(prompts, settings, rest), cancelled, deadline)
            width = per_group
            for choice in reply.choices:
                branch = open_branches[choice.index // width]
                if per_group > 1:
                    choice = _cut(choice, settings.stop_token_ids)
                tail = self._hypothesis(choice, finisher, reply.timed_out, lead=branch)
                hyps.append(tail)
        else:
            for branch in open_branches:
                branch.finish = "time" if probe.timed_out else "length"
                hyps.append(branch)
        return _ranked(_distinct(hyps), settings)[: settings.num_return], reply

    # -- choices into hypotheses --------------------------------------------------------------------

    @staticmethod
    def _hypothesis(choice: Choice, finisher: Finisher, timed_out: bool, lead: Hypothesis | None = None) -> Hypothesis:
        """A choice (after ``lead``'s tokens, for a branch) with the local stop rules' finish reason."""
        hyp = Hypothesis((lead.ids if lead else []) + choice.token_ids, (lead.logprobs if lead else []) + choice.logprobs)
        hyp.score = sum(hyp.logprobs)
        hyp.finish = finisher.reason(hyp.ids) if hyp.ids else None
        if hyp.finish is None:
            if choice.finish_reason == "stop":
                hyp.finish = "stop"  # a stop string vLLM found in the text
            elif choice.finish_reason is None and timed_out:
                hyp.finish = "time"
            else:
                hyp.finish = "length"
        return hyp


def _cut(choice: Choice, stop_ids: Sequence[int]) -> Choice:
    """A beam up to and with its first stop id (vLLM's beam search runs past them)."""
    for i, token in enumerate(choice.token_ids):
        if token in stop_ids:
            return replace(choice, token_ids=choice.token_ids[: i + 1], logprobs=choice.logprobs[: i + 1],
                           finish_reason="stop", stop_reason=token)
    return choice


def _distinct(hyps: list[Hypothesis]) -> list[Hypothesis]:
    """Once each token sequence (beams that differed only after a stop id are one)."""
    seen, out = set(), []
    for hyp in hyps:
        if tuple(hyp.ids) not in seen:
            seen.add(tuple(hyp.ids))
            out.append(hyp)
    return out


def _ranked(hyps: list[Hypothesis], settings: DecodeSettings) -> list[Hypothesis]:
    return sorted(hyps, key=lambda h: -h.normalised(settings.length_penalty))


# -- connecting: the remote engine's "load" ----------------------------------------------------------

REMOTE_ENGINES = ("vllm",)
# Special tokens, digits, a newline and markup: a served tokenizer that is not Galactica's differs here.
TOKENIZER_PROBE = "Attention [START_REF] Attention is All you Need, Vaswani[END_REF] 2048 <work>\n$x^2$ [START_DNA]"


def connect(model: str, endpoint: str, report: ProgressCallback = lambda p: None, api_key: str | None = None,
            **client_options) -> LoadedModel:
    """Check the endpoint and the served model, and return a loaded model whose one backend is vLLM.

    ``model`` (a size, ``tiny``, a hub id or a directory) picks the served model
    when the server has several, and is where the tokenizer files come from
    (all Galactica sizes share one tokenizer; a hub id downloads only those
    files). The served tokenizer must give the same ids as this one on a probe
    text. No weights are loaded and no memory is checked here: the status shows
    the served model's size (fp16 weights, from its shape).
    """
    from .loading import LoadedModel, ModelError, read_shape, resolve, tokenizer_directory

    started = time.monotonic()
    if not endpoint.strip():
        raise ModelError("the vllm engine needs an endpoint: --endpoint URL, or the setting galactica.endpoint")
    try:
        client = RemoteClient(endpoint, api_key if api_key is not None else api_key_from_env(), **client_options)
    except ValueError as exc:
        raise ModelError(str(exc)) from None
    report(Progress("check", f"checking {client.url}"))
    try:
        client.health()
        served_models = client.models()
        if not served_models:
            raise ModelError(f"{client.url} serves no model")
        source = resolve(model)
        served = next((m for m in served_models if model in (m.id, m.root) or source.location in (m.id, m.root)),
                      served_models[0])
        report(Progress("load", f"reading the tokenizer of {source.name}"))
        tokenizer = load_tokenizer(tokenizer_directory(source))
        ours = tokenizer(TOKENIZER_PROBE, add_special_tokens=False)["input_ids"]
        theirs = client.tokenize(served.id, TOKENIZER_PROBE)
    except RemoteError as exc:
        client.close()
        raise ModelError(f"vllm at {client.url}: {exc}") from None
    if theirs != ours:
        client.close()
        raise ModelError(f"the model served at {client.url} ({served.id}) does not use the tokenizer of {source.name}:"
                         f" a probe text gives other token ids ({theirs[:8]}… against {ours[:8]}…)")
    shape = _served_shape(served, source, read_shape, resolve)
    if len(tokenizer) > shape.vocab_size:
        raise ModelError(f"the tokenizer of {source.name} has {len(tokenizer)} tokens, the served model {shape.vocab_size}")
    if served.max_model_len:
        shape = replace(shape, max_positions=min(shape.max_positions, served.max_model_len))
    served_source = replace(source, name=source.name, location=served.id)
    placement = Placement(kind="remote", dtype="float16", free_bytes=(0,), names=(client.url,))
    plan = MemoryPlan(weights=shape.weight_bytes("float16"), kv_cache=0, working=0, available=0, devices=0)
    backend = VllmBackend(client, served.id, served.max_model_len)
    loaded = LoadedModel(served_source, placement, plan, shape, None, tokenizer, time.monotonic() - started,
                         engine="vllm", engine_requested="vllm", backends=(backend,))
    report(Progress("ready", f"{served.id} at {client.url} ready"))
    return loaded


def _served_shape(served: ServedModel, source, read_shape, resolve) -> ModelShape:
    """The served model's shape when its name says it (a catalogue hub id, a directory here), else ``source``'s."""
    from .loading import ModelError

    for name in (served.root, served.id):
        try:
            candidate = resolve(name)
            if candidate.entry is not None or candidate.is_local:
                return read_shape(candidate)
        except ModelError:
            continue
    return read_shape(source)
