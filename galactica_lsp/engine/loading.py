"""Finding, checking and loading a model.

Owns: turning ``--model`` (a size name, ``tiny``, a hub id or a local
directory) into a :class:`ModelSource`; reading its shape without loading it;
refusing, before any download or load, a model that cannot fit; downloading
with byte progress; loading the checkpoint onto the placement (``opt``, its
layers split over GPUs when one is not enough); and setting up Galactica's
tokenizer (``tokenizer``); and making the backends that decode
(``decoding.TorchBackend``, and ``ct2.FastDecoder`` when asked for). The
checks (:func:`prepare`) are apart from the load (:func:`load_prepared`), so
that a model swap can fail its checks while the old model keeps serving. With
``HF_HUB_OFFLINE=1`` or a local directory no network is touched. torch is
imported by the load, not by importing this module.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from .backend import Backend
from .catalogue import (
    DTYPE_BYTES,
    SIZES,
    TINY,
    TINY_MODEL_DIR,
    CatalogueEntry,
    ModelShape,
    entry_for_hub_id,
    human_bytes,
)
from .ct2 import FAST_ENGINES, EngineError, choose, weight_share
from .devices import Placement, normalise_dtype, place
from .memory import MemoryPlan, check_fits
from .precision import Precision, apply_threads, sized
from .precision import choose as choose_precision
from .types import Progress, ProgressCallback

log = logging.getLogger(__name__)

# What a checkpoint needs; weights come as safetensors where the repository has them.
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
HUB_PROBE_SECONDS = 3.0  # how long the hub may take to accept a connection before a load gives up
_CONFIG_FILES = ["config.json", "generation_config.json", "tokenizer*.json", "special_tokens_map.json"]


class ModelError(ValueError):
    """The model named cannot be found or is not a causal language model we can serve."""


@dataclass(frozen=True)
class ModelSource:
    name: str  # what the user asked for
    kind: str  # "tiny" | "size" | "hub" | "local"
    location: str  # hub id or directory
    entry: CatalogueEntry | None = None

    @property
    def is_local(self) -> bool:
        return self.kind in ("tiny", "local")


@dataclass
class LoadedModel:
    source: ModelSource
    placement: Placement
    plan: MemoryPlan
    shape: ModelShape
    model: object
    tokenizer: object
    load_seconds: float
    directory: str = ""  # the checkpoint's files on disk
    engine: str = "torch"  # what decodes greedy and sampled requests: "torch", "ctranslate2" or "ctranslate2-int8"
    engine_requested: str = "auto"
    fast: Backend | None = None  # the CTranslate2 decoder when engine is one of its
    backends: tuple[Backend, ...] = ()  # what decodes, in order of preference (see ``backend.pick``)
    precision: Precision | None = None  # each phase's precision and the threads, with the reason

    def prompt_cache_tokens(self) -> int:
        """Tokens one engine may keep in its prompt cache (buffer tokens, room included): what the plan set aside."""
        return self.plan.prefix_tokens

    def describe(self) -> str:
        engine = {"ctranslate2": " with CTranslate2", "ctranslate2-int8": " with CTranslate2 (int8)"}.get(self.engine, "")
        mixed = self.precision is not None and self.precision.prefill != self.precision.weights
        prefill = f" (prefill: {self.precision.prefill})" if mixed else ""
        return f"{self.source.name} on {self.placement.describe()}{prefill}{engine}"


def resolve(model: str) -> ModelSource:
    """Name → source; raises :class:`ModelError` for what is none of the accepted forms."""
    name = model.strip()
    if name == TINY:
        return ModelSource(name, "tiny", str(TINY_MODEL_DIR))
    if name in SIZES:
        entry = SIZES[name]
        return ModelSource(name, "size", entry.hub_id, entry)
    path = Path(name).expanduser()
    if path.is_dir():
        return ModelSource(name, "local", str(path.resolve()))
    if _HUB_ID.match(name):
        return ModelSource(name, "hub", name, entry_for_hub_id(name))
    if name.startswith((".", "/", "~")) or "/" in name or os.sep in name:
        raise ModelError(f"model directory {name!r} does not exist")
    sizes = ", ".join([*SIZES, TINY])
    raise ModelError(f"unknown model {name!r}: use a size ({sizes}), a hub id like facebook/galactica-125m, or a directory")

def read_shape(source: ModelSource) -> ModelShape:
    """The shape from the catalogue or the checkpoint's ``config.json`` (downloaded alone if needed)."""
    if source.entry is not None:
        return source.entry.shape
    if source.is_local:
        config_path = Path(source.location) / "config.json"
        if not config_path.is_file():
            raise ModelError(f"{source.location} has no config.json: not a model directory")
    else:
        config_path = Path(_hub_file(source.location, "config.json"))
    try:
        return ModelShape.from_config(json.loads(config_path.read_text()))
    except (ValueError, json.JSONDecodeError) as exc:
        raise ModelError(f"{config_path}: {exc}") from exc


def _hub_file(repo_id: str, filename: str) -> str:
    """One file of a hub repository: from the cache, else downloaded."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return hf_hub_download(repo_id, filename, local_files_only=True)
    except LocalEntryNotFoundError:
        if _offline():
            raise _not_cached(repo_id) from None
    try:
        return hf_hub_download(repo_id, filename)
    except Exception as exc:  # network, authentication, a repository that does not exist
        raise ModelError(f"cannot get {filename} of {repo_id}: {type(exc).__name__}: {exc}") from exc


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")


def _not_cached(repo_id: str, why: str = "") -> ModelError:
    reason = f"the model hub cannot be reached ({why})" if why else "HF_HUB_OFFLINE is set"
    return ModelError(
        f"{repo_id} is not in the local cache and {reason}: download it once while online (HF_HUB_OFFLINE=1 then"
        f" uses the cache alone), pass a local directory holding the checkpoint, or use --model tiny (the bundled"
        f" test model)"
    )


def check_reachable(source: ModelSource, timeout: float = HUB_PROBE_SECONDS) -> None:
    """Raise :class:`ModelError` at once when a hub model is neither cached nor reachable.

    A local directory, or a hub model whose ``config.json`` is in the cache,
    passes without the network. Otherwise a TCP connection to the hub (or to
    the proxy that reaches it) must open within ``timeout`` seconds: without a
    route to the hub, huggingface_hub's own retries take half a minute and
    print every warning twice.
    """
    if source.is_local:
        return
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(source.location, "config.json"), str):
        return
    if _offline():
        raise _not_cached(source.location)
    why = _hub_unreachable(timeout)
    if why:
        raise _not_cached(source.location, why)


def _hub_unreachable(timeout: float) -> str | None:
    """Why no TCP connection to the hub (``HF_ENDPOINT``) or its proxy opens within ``timeout`` s; None when one does."""
    import urllib.parse
    import urllib.request

    from huggingface_hub import constants

    endpoint = urllib.parse.urlsplit(constants.ENDPOINT)
    host, port = endpoint.hostname or "", endpoint.port or (443 if endpoint.scheme == "https" else 80)
    proxy = urllib.request.getproxies().get(endpoint.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        via = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        host, port = via.hostname or "", via.port or 80
    outcome: list[str | None] = []

    def connect() -> None:  # in a thread: name resolution has no timeout of its own
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(None)
        except OSError as exc:
            outcome.append(f"{host}:{port}: {exc.strerror or exc}")

    probe = threading.Thread(target=connect, name="hub-probe", daemon=True)
    probe.start()
    probe.join(timeout)
    return outcome[0] if outcome else f"{host}:{port}: no answer in {timeout:g} s"


def _progress_bar_class(report: ProgressCallback):
    """A tqdm class that forwards huggingface_hub's byte counts to ``report``."""
    from tqdm.auto import tqdm

    class ReportingBar(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = True  # never draw on stdout/stderr: stdout carries the protocol
            super().__init__(*args, **kwargs)

        def update(self, n=1):
            super().update(n)
            if self.unit == "B":
                report(Progress("download", f"downloading {self.desc or ''}".strip(), int(self.n), int(self.total or 0)))

    return ReportingBar


def download(source: ModelSource, report: ProgressCallback) -> str:
    """A local directory with the checkpoint: the hub cache when it has it, else a download."""
    if source.is_local:
        return source.location
    from huggingface_hub import list_repo_files, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    def fetch(weights: list[str], local_only: bool) -> str:
        return snapshot_download(
            source.location,
            allow_patterns=_CONFIG_FILES + weights,
            local_files_only=local_only,
            tqdm_class=_progress_bar_class(report),
        )

    safetensors, pickles = ["*.safetensors", "*.safetensors.index.json"], ["*.bin", "*.bin.index.json"]
    try:
        # Cached already: no network at all, whatever HF_HUB_OFFLINE says.
        return fetch(safetensors + pickles, local_only=True)
    except LocalEntryNotFoundError:
        if _offline():
            raise _not_cached(source.location) from None
    try:
        files = list_repo_files(source.location)
        # Older checkpoints (Galactica's) ship PyTorch pickles; take safetensors where there are some.
        return fetch(safetensors if any(f.endswith(".safetensors") for f in files) else pickles, local_only=False)
    except Exception as exc:  # network, authentication, disk: all end the same way for the user
        raise ModelError(f"cannot download {source.location}: {type(exc).__name__}: {exc}") from exc


def tokenizer_directory(source: ModelSource) -> str:
    """A directory with the checkpoint's config and tokenizer files only (no weights): for a remote engine."""
    if source.is_local:
        return source.location
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return snapshot_download(source.location, allow_patterns=_CONFIG_FILES, local_files_only=True)
    except LocalEntryNotFoundError:
        if _offline():
            raise _not_cached(source.location) from None
    try:
        return snapshot_download(source.location, allow_patterns=_CONFIG_FILES)
    except Exception as exc:  # network, authentication: the same for the user
        raise ModelError(f"cannot download the tokenizer of {source.location}: {type(exc).__name__}: {exc}") from exc


@dataclass(frozen=True)
class Prepared:
    """A load that passed every check: the model named, where it goes, its shape, its memory plan and engine."""

    source: ModelSource
    placement: Placement
    shape: ModelShape
    plan: MemoryPlan
    engine: str  # the engine chosen
    engine_requested: str
    started: float  # time.monotonic() when the checks began
    precision: Precision | None = None  # each phase's precision on this machine (``precision.choose``)


def prepare(
    model: str,
    device: str = "auto",
    dtype: str = "auto",
    context_tokens: int = 2048,
    sequences: int = 1,
    report: ProgressCallback = lambda p: None,
    engine: str = "auto",
    reclaimable: tuple[str, int] = ("", 0),
) -> Prepared:
    """Every check a load can fail before it touches the model in memory: name, hub, device, engine, shape, fit.

    A hub model must be cached or the hub reachable (:func:`check_reachable`):
    checked first, since a model that cannot be had cannot be loaded, and the
    check answers before torch is even imported.
    ``reclaimable`` is (device kind, bytes) that the model loaded now holds
    and will give back before this one loads: it counts as free on that kind
    of device (on the first GPU when there are several). With the CTranslate2
    engine the plan counts its copy of the weights too.
    """
    started = time.monotonic()
    source = resolve(model)
    check_reachable(source)  # first: it takes milliseconds, where placing the model first imports torch
    placement = place(device, dtype)
    kind, held = reclaimable
    if held and kind == placement.kind:
        placement = replace(placement, free_bytes=(placement.free_bytes[0] + held, *placement.free_bytes[1:]))
    chosen = choose(engine, placement)
    shape = read_shape(source)
    placement = sized(placement, normalise_dtype(dtype), chosen, shape.parameters)  # a CPU's auto dtype: by size
    report(Progress("check", f"checking memory for {source.name} on {placement.describe()}"))
    plan = check_fits(source.name, shape, placement, context_tokens, sequences, weight_share(chosen, placement))
    if chosen in FAST_ENGINES and plan.devices > 1:
        raise EngineError(f"the {chosen} engine cannot run here: {source.name} needs {plan.devices} GPUs")
    log.info("memory plan for %s: %s", source.name, plan.describe())
    precision = choose_precision(placement, normalise_dtype(dtype), shape.parameters)
    log.info("precision for %s: %s (%s)", source.name, precision.describe(), precision.why)
    return Prepared(source, placement, shape, plan, chosen, engine, started, precision)


def load_prepared(prepared: Prepared, directory: str, report: ProgressCallback = lambda p: None) -> LoadedModel:
    """Load a checked model from its downloaded ``directory`` and make its backends."""
    from .decoding import TorchBackend

    source, plan = prepared.source, prepared.plan
    if prepared.precision is not None:
        apply_threads(prepared.precision)  # here, on the thread that will run the model
    report(Progress("load", f"loading {source.name} ({human_bytes(plan.weights)})", 0, plan.weights))
    model_obj, tokenizer = _load_checkpoint(directory, prepared.placement, plan, prepared.shape)
    report(Progress("load", f"loaded {source.name}", plan.weights, plan.weights))
    loaded = LoadedModel(source, prepared.placement, plan, prepared.shape, model_obj, tokenizer,
                         time.monotonic() - prepared.started, directory, prepared.engine, prepared.engine_requested,
                         precision=prepared.precision)
    if prepared.engine in FAST_ENGINES:
        _attach_fast(loaded, report)
    # In order of preference: CTranslate2 serves what it handles, torch everything else.
    loaded.backends = (*([loaded.fast] if loaded.fast else []), TorchBackend(model_obj, loaded.prompt_cache_tokens(),
                                                                                 precision=prepared.precision))
    loaded.load_seconds = time.monotonic() - prepared.started
    report(Progress("ready", f"{loaded.describe()} ready in {loaded.load_seconds:.1f} s"))
    return loaded


def load(
    model: str,
    device: str = "auto",
    dtype: str = "auto",
    context_tokens: int = 2048,
    sequences: int = 1,
    report: ProgressCallback = lambda p: None,
    engine: str = "auto",
) -> LoadedModel:
    """Check that the model fits, then download and load it; every step is reported."""
    prepared = prepare(model, device, dtype, context_tokens, sequences, report, engine)
    return load_prepared(prepared, download(prepared.source, report), report)


def _attach_fast(loaded: LoadedModel, report: ProgressCallback) -> None:
    """Convert (once) and open the CTranslate2 copy, and check that it decodes as the torch model does.

    Where it cannot (a conversion error, different greedy tokens in float32),
    the load fails with the reason.
    """
    from .ct2 import FastDecoder, check_matches, convert
    from .decoding import generate  # the torch loop, before the backends exist

    try:
        path = convert(loaded.directory, loaded.placement.dtype,
                       lambda message: report(Progress("convert", message)))
        fast = FastDecoder(path, loaded.placement, loaded.tokenizer, loaded.prompt_cache_tokens(), loaded.engine)
        if fast.compute_type == "float32":  # half precisions and int8 may round a near tie the other way
            prompt = loaded.tokenizer("The Transformer architecture relies on", add_special_tokens=False)["input_ids"]
            difference = check_matches(fast, lambda ids, s: generate(loaded.model, ids, s, lambda t: ""), prompt)
            if difference:
                raise EngineError(f"CTranslate2 does not decode as torch does: {difference}")
    except Exception as exc:
        raise EngineError(f"the {loaded.engine} engine failed: {exc}") from exc
    loaded.fast = fast


def import_runtime() -> None:
    """Import what a load of a Galactica (OPT) checkpoint needs: torch, the tokenizer library, the torch backend.

    A second or more on a busy machine (torch alone): the server runs this on the worker thread as soon as the client
    connects, so that the load, which waits for the client's settings, finds them imported. transformers is not among
    them: the forward pass is ``opt``'s own.
    """
    import tokenizers  # noqa: F401
    import torch  # noqa: F401

    from . import decoding  # noqa: F401


def gpu_shares(placement: Placement, shape: ModelShape) -> list[tuple[str, int]]:
    """Each GPU and the bytes its share of the layers is measured by: its free bytes, the first's less the
    embeddings (and the tied head) it keeps (``opt.load`` spreads the layers in proportion to these)."""
    ends = shape.embedding_parameters * DTYPE_BYTES[placement.dtype]
    free = [max(placement.free_bytes[0] - ends, 0), *placement.free_bytes[1:]]
    return [(f"{placement.kind}:{i}", room) for i, room in enumerate(free)]


def _load_checkpoint(directory: str, placement: Placement, plan: MemoryPlan, shape: ModelShape):
    """The checkpoint's model (``opt.OPT``) on the placement, its layers spread over the GPUs when one is too small."""
    from .opt import load as load_opt
    from .tokenizer import load_tokenizer

    spread = gpu_shares(placement, shape) if plan.devices > 1 else None
    try:
        tokenizer = load_tokenizer(directory)
        model = load_opt(directory, placement.torch_device, placement.torch_dtype, spread)
    except (OSError, ValueError, RuntimeError) as exc:  # a bad checkpoint (CheckpointError is one), file or tensor
        raise ModelError(f"cannot load {directory}: {exc}") from exc
    return model, tokenizer
