"""What the server and the command line ask of Galactica, and the engine that runs it.

Owns: :class:`Galactica`, the tasks over a loaded model (continue a text,
suggest references, explain a formula in words, step by step or as SymPy),
each run on the worker thread with the cancellation check threaded through;
and :class:`Engine`, which holds the worker and the current model, loads and
swaps models as control jobs, and answers status questions.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from .decoding import Cancelled, Confidence, DecodeSettings, Generation, generate
from .devices import release_memory
from .galactica import (
    END_REF_ID,
    EOS_ID,
    START_REF,
    Reference,
    clean_reference,
    decode,
    escape_sequences,
    explain_prompt,
    reference_prompt,
    sympy_prompt,
    work_prompt,
)
from .loading import LoadedModel, ProgressCallback, load
from .worker import Job, Priority, Worker

log = logging.getLogger(__name__)
T = TypeVar("T")

EXPLAIN_MODES = ("explain", "work", "sympy")


class ModelNotReady(RuntimeError):
    """A request arrived while no model is loaded (loading, failed, or not asked for)."""


@dataclass(frozen=True)
class Suggestion:
    """A reference the model proposed, with how sure it was."""

    reference: Reference
    confidence: Confidence
    finish_reason: str

    @property
    def text(self) -> str:
        return self.reference.text


class Galactica:
    """The tasks, over one loaded model. Called on the worker thread only."""

    def __init__(self, loaded: LoadedModel):
        self.loaded = loaded
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.max_positions = loaded.shape.max_positions

    def encode(self, text: str, budget: int, new_document: bool = False) -> list[int]:
        """Token ids of ``text`` (sequence spans escaped), keeping its last ``budget`` tokens."""
        ids = self.tokenizer(escape_sequences(text), add_special_tokens=False)["input_ids"]
        if new_document:
            return [EOS_ID] + ids[-(budget - 1) :]
        return ids[-budget:] if ids else [EOS_ID]  # an empty text starts a new document

    def generate(
        self, prompt: str, settings: DecodeSettings, cancelled: Callable[[], bool], new_document: bool = False
    ) -> list[Generation]:
        budget = self.max_positions - settings.max_new_tokens
        ids = self.encode(prompt, budget, new_document)
        return generate(self.model, ids, settings, lambda t: decode(self.tokenizer, t), cancelled)

    def complete(
        self, text: str, settings: DecodeSettings, cancelled: Callable[[], bool] = lambda: False, new_document=False
    ) -> list[Generation]:
        """Continue a text: ghost text and the completion menu."""
        return self.generate(text, settings, cancelled, new_document)

    def cite(
        self,
        text: str,
        suggestions: int = 5,
        diversity: float = 1.0,
        max_new_tokens: int = 48,
        cancelled: Callable[[], bool] = lambda: False,
        time_limit: float | None = None,
    ) -> list[Suggestion]:
        """Reference suggestions for the end of ``text`` by galai's rules, most probable first.

        Only references the model closed with ``[END_REF]`` count.

        One beam group per suggestion when ``diversity`` > 0 (diverse beam
        search), so the suggestions are different papers, not one title's variants.
        """
        prompt = reference_prompt(text)
        typed = prompt[prompt.rfind(START_REF) + len(START_REF) :]  # a title the user began
        n = max(1, suggestions)
        settings = DecodeSettings(
            strategy="beam" if n > 1 else "greedy",
            max_new_tokens=max_new_tokens,
            num_beams=n,
            num_return=n,
            beam_groups=n if diversity > 0 else 1,
            diversity=diversity,
            stop_token_ids=(END_REF_ID, EOS_ID),
            time_limit=time_limit,
        )
        seen: set[str] = set()
        found: list[Suggestion] = []
        for gen in self.generate(prompt, settings, cancelled):
            if gen.finish_reason != "stop":
                continue  # never closed with [END_REF]: a run-on, not a reference
            reference = clean_reference(typed + gen.text)
            key = " ".join(reference.casefold().split())
            if reference and key not in seen:
                seen.add(key)
                found.append(Suggestion(Reference(reference), gen.confidence, gen.finish_reason))
        return sorted(found, key=lambda s: -s.confidence.total)

    def explain(
        self,
        latex: str,
        mode: str = "explain",
        max_new_tokens: int = 96,
        cancelled: Callable[[], bool] = lambda: False,
        time_limit: float | None = None,
    ) -> Generation:
        """A formula in plain English, step by step (``<work>``), or as SymPy code."""
        prompts = {"explain": explain_prompt, "work": work_prompt, "sympy": sympy_prompt}
        if mode not in prompts:
            raise ValueError(f"unknown explanation mode {mode!r}: choose one of {', '.join(EXPLAIN_MODES)}")
        settings = DecodeSettings(
            max_new_tokens=max_new_tokens,
            stop_strings=("```",) if mode == "sympy" else (),
            time_limit=time_limit,
        )
        generation = self.generate(prompts[mode](latex), settings, cancelled, new_document=True)[0]
        text = generation.text.strip()
        return Generation(text, generation.token_ids, generation.logprobs, generation.finish_reason)


class Engine:
    """The worker thread plus the model it owns; the one object the server and CLI hold."""

    def __init__(self, worker: Worker | None = None):
        self.worker = worker or Worker()
        self._galactica: Galactica | None = None
        self._lock = threading.Lock()
        self.state = "empty"  # "empty" | "loading" | "ready" | "error"
        self.error: str | None = None

    @property
    def loaded(self) -> LoadedModel | None:
        return self._galactica.loaded if self._galactica else None

    def start_load(
        self,
        model: str,
        device: str = "auto",
        dtype: str = "auto",
        context_tokens: int = 2048,
        sequences: int = 1,
        report: ProgressCallback = lambda p: None,
    ):
        """Queue a (re)load as a control job: the old model is dropped first, then the new one checked and loaded."""
        with self._lock:
            self.state, self.error = "loading", None

        def job(cancelled: Callable[[], bool]) -> LoadedModel:
            self._unload()
            try:
                loaded = load(model, device, dtype, context_tokens, sequences, report)
                galactica = Galactica(loaded)
            except BaseException as exc:
                with self._lock:
                    self.state, self.error = "error", str(exc)
                raise
            with self._lock:
                self._galactica, self.state = galactica, "ready"
            return loaded

        return self.worker.submit(job, Priority.CONTROL, f"load {model}")

    def load(self, model: str, **kwargs) -> LoadedModel:
        """Load and wait (command line)."""
        return self.start_load(model, **kwargs).future.result()

    def _unload(self) -> None:
        with self._lock:
            old, self._galactica = self._galactica, None
        if old is not None:
            kind = old.loaded.placement.kind
            del old
            release_memory(kind)

    def _task(self, task: Callable[[Galactica, Callable[[], bool]], T]) -> Callable[[Callable[[], bool]], T]:
        def job(cancelled: Callable[[], bool]) -> T:
            galactica = self._galactica
            if galactica is None:
                raise ModelNotReady(self.not_ready_reason())
            try:
                return task(galactica, cancelled)
            except Cancelled:
                release_memory(galactica.loaded.placement.kind)
                raise

        return job

    def submit(self, task: Callable[[Galactica, Callable[[], bool]], T], priority: Priority, label: str) -> Job[T]:
        """Queue a task; raises :class:`ModelNotReady` at once rather than waiting for a load."""
        if self.state != "ready":
            raise ModelNotReady(self.not_ready_reason())
        return self.worker.submit(self._task(task), priority, label)

    async def run(self, task: Callable[[Galactica, Callable[[], bool]], T], priority: Priority, label: str) -> T:
        """Run a task on the worker from the event loop; cancelling the caller cancels the task."""
        if self.state != "ready":
            raise ModelNotReady(self.not_ready_reason())
        return await self.worker.run(self._task(task), priority, label)

    def call(self, task: Callable[[Galactica, Callable[[], bool]], T], label: str) -> T:
        """Run a task and wait (command line)."""
        return self.worker.call(self._task(task), Priority.INTERACTIVE, label)

    def not_ready_reason(self) -> str:
        if self.state == "loading":
            return "the model is still loading"
        if self.state == "error":
            return f"the model failed to load: {self.error}"
        return "no model is loaded"

    def status(self) -> dict:
        loaded = self.loaded
        status = {"state": self.state, "error": self.error, "queued": self.worker.pending()}
        if loaded is not None:
            status.update(
                model=loaded.source.name,
                location=loaded.source.location,
                device=loaded.placement.kind,
                dtype=loaded.placement.dtype,
                parameters=loaded.shape.parameters,
                weightBytes=loaded.plan.weights,
                memoryInUse=_memory_in_use(loaded),
                loadSeconds=round(loaded.load_seconds, 3),
            )
        status["lastLatencies"] = [
            {"label": t.label, "waitedMs": round(t.waited * 1000, 1), "ranMs": round(t.ran * 1000, 1), "outcome": t.outcome}
            for t in list(self.worker.timings)[-8:]
        ]
        return status

    def shutdown(self) -> None:
        self.worker.shutdown()
        self._unload()


def _memory_in_use(loaded: LoadedModel) -> int:
    """Bytes the model holds on its device: allocator figures on GPUs, the weights' size on a CPU."""
    import torch

    if loaded.placement.kind == "cuda":
        return sum(torch.cuda.memory_allocated(i) for i in range(torch.cuda.device_count()))
    if loaded.placement.kind == "mps":
        return torch.mps.current_allocated_memory()
    return sum(p.numel() * p.element_size() for p in loaded.model.parameters())
