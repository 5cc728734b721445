"""What each phase of a request runs in on this machine: precision per phase, and threads.

Owns: what the CPU can do for bfloat16 (AMX, AVX512-BF16, neither:
:func:`cpu_bf16`); the :class:`Precision` plan that turns the ``dtype``
setting, the placement and the model's size into the weights' dtype, the
matmul mode of the prefill and of decoding, and the intra-op threads, with
the reason for each choice (the status shows it); and :func:`phase`, the
context the torch backend runs a prefill or a decoding step in.

The choices, measured on this project's machine (``benchmarks/precision.py``,
``benchmarks/agreement.py``, ``benchmarks/typing_session.py``):

- CPU, ``dtype`` auto, with bf16 units (AVX512-BF16 or AMX), a model of
  ``SMALL_MODEL_PARAMETERS`` or more (:func:`auto_cpu_dtype`): bf16 weights;
  the prefill and beams through oneDNN (five rows a step: 30 ms with it, 45
  without), one-row decoding through torch's own bf16 kernels (oneDNN's
  one-row path made a step 1.9× slower), every phase on the cores other
  processes leave free (they scale: the 125m lm-head took 3.8 ms on one
  thread, 2.2 on two, where MKL's float32 one took 10 on either), attention
  in float32 over a float32 KV cache (``attention``). Decoding a token of the
  125m shape took 15 ms against 40 in float32; ghost text and explanations
  answered in 0.2–0.4× the naive path's time, float32 could not go under
  0.6×. It is what the GPUs run too. It may differ from float32 where tokens
  are nearly tied: on the tiny model's 112 memorised prompts 111 were identical
  token for token (largest log-prob difference 0.05), and on the 125m shape's
  random weights, where near-ties are everywhere, a bf16 step picked float32's
  token at 95% of positions. ``dtype`` float32 gives float32 throughout.
- CPU, ``dtype`` auto, a model under ``SMALL_MODEL_PARAMETERS`` (the tiny
  model) with bf16 units: float32 weights (they sit in the caches: bf16 gains
  nothing there), the prefill's matmuls through oneDNN with bf16 allowed
  (``torch.backends.mkldnn.matmul.fp32_precision = "bf16"``), decoding float32
  through MKL. Greedy tokens were identical on the tiny model's memorised
  prompts (tested); without AMX oneDNN keeps float32 arithmetic here, with
  AMX it multiplies in bf16.
- CPU without bf16 units, or ``dtype`` float32: float32 throughout.
- CPU, ``dtype`` bfloat16: as auto picks for a large model, at any size.
- GPUs: bf16 where supported, else fp16, both phases; MPS: fp16.
- Threads (``benchmarks/threads.py``, ``cpu_load``): one-row float32
  decoding runs on one CPU thread: MKL's float32 matrix-vector product did
  not get faster on two here, and a step of hundreds of small operations
  waits for the slowest thread (3× slower beside a busy process on two). The
  prefill, beam search (several rows) and bf16 decoding run on the cores the
  other processes leave free, sampled before each phase: on the idle machine
  two threads prefilled 1.79× faster than one and ran five beams 1.26×
  faster, beside a busy process one thread was 1.67× and 2.7× faster than
  two. A model under ``SMALL_MODEL_PARAMETERS`` runs on one thread
  throughout (the tiny model's warm-up took 3.2 s on two threads, 0.05 s on
  one).

Nothing here imports torch at module level: the settings and ``--help`` read
``DTYPES`` through ``devices``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from .cpu_load import CoreMeter
from .devices import Placement

SMALL_MODEL_PARAMETERS = 50_000_000  # below this a CPU model runs on one intra-op thread
CPU_KINDS = ("amx", "avx512-bf16", "none")  # what cpu_bf16() answers


@dataclass(frozen=True)
class Precision:
    """The weights' dtype, each phase's matmul mode, the intra-op threads, and why."""

    kind: str  # the placement's device kind: "cpu", "cuda", "mps"
    weights: str  # "float32" | "float16" | "bfloat16": the placement's dtype
    prefill: str  # "float32" | "float32, bf16 matmuls" | "bfloat16" | "float16"
    decode: str  # "float32" | "bfloat16" | "float16"
    threads: int | None  # intra-op threads on a CPU, every phase; None: per phase (``phase_threads``)
    hardware: str  # "AMX", "AVX512-BF16", "no bf16 units", or the GPU's kind
    why: str
    prefill_matmul: str = "none"  # torch.backends.mkldnn.matmul.fp32_precision during the prefill
    decode_onednn: bool = True  # torch.backends.mkldnn.enabled while decoding one row (several rows: always on)
    decode_threads: int | None = None  # intra-op threads of one-row decoding on a CPU; None: as the other phases

    def describe(self) -> str:
        if self.prefill == self.decode:
            return self.prefill
        return f"prefill {self.prefill}, decode {self.decode}"

    def status(self) -> dict:
        return asdict(self)


def cpu_bf16() -> str:
    """``"amx"``, ``"avx512-bf16"`` or ``"none"``: the bf16 units this CPU has (torch's cpuinfo, else /proc/cpuinfo)."""
    try:
        import torch

        if torch.cpu._is_amx_tile_supported():
            return "amx"
        if torch.cpu._is_avx512_bf16_supported():
            return "avx512-bf16"
        return "none"
    except (AttributeError, ImportError, RuntimeError):  # a torch without these helpers
        return _cpuinfo_bf16()


def _cpuinfo_bf16(path: Path = Path("/proc/cpuinfo")) -> str:
    try:
        flags = set(path.read_text(errors="replace").split())
    except OSError:
        return "none"
    if "amx_bf16" in flags:
        return "amx"
    return "avx512-bf16" if "avx512_bf16" in flags else "none"


_HARDWARE = {"amx": "AMX", "avx512-bf16": "AVX512-BF16", "none": "no bf16 units"}




def auto_cpu_dtype(parameters: int, cpu: str | None = None) -> str:
    """What ``dtype`` auto loads a model of ``parameters`` in on this CPU (``cpu``: :func:`cpu_bf16`'s answer)."""
    cpu = cpu if cpu is not None else cpu_bf16()
    return "bfloat16" if cpu != "none" and parameters >= SMALL_MODEL_PARAMETERS else "float32"


def sized(placement: Placement, requested: str, engine: str, parameters: int, cpu: str | None = None) -> Placement:
    """``placement`` with the dtype auto gives a model of ``parameters`` on it: on a CPU it depends on the size
    (:func:`auto_cpu_dtype`); a CTranslate2 engine, a GPU, MPS or a dtype asked for keep theirs."""
    if placement.kind != "cpu" or requested != "auto" or engine != "torch":
        return placement
    return replace(placement, dtype=auto_cpu_dtype(parameters, cpu))


def choose(placement: Placement, requested: str, parameters: int, cpu: str | None = None) -> Precision:
    """The plan for ``placement`` (its dtype already resolved from ``requested``: auto, float32, …).

    ``cpu`` is :func:`cpu_bf16`'s answer (asked when None).
    """
    if placement.kind != "cpu":
        why = {"auto": f"{placement.dtype}: the default on this {placement.kind.upper()} device"
               + (" (no bf16 support)" if placement.kind == "cuda" and placement.dtype == "float16" else "")}
        return Precision(placement.kind, placement.dtype, placement.dtype, placement.dtype, None, ", ".join(placement.names),
                         why.get(requested, f"{placement.dtype}: asked for by dtype"))
    cpu = cpu if cpu is not None else cpu_bf16()
    hardware = _HARDWARE[cpu]
    threads = 1 if parameters < SMALL_MODEL_PARAMETERS else None
    one = ("; one thread (a small model)" if threads == 1 else
           "; one-row decoding on one thread, the prefill and beams on the cores other processes leave free")
    free = "; every phase on the cores other processes leave free" if threads is None else one
    dtype = placement.dtype
    if dtype == "float32" and requested == "auto" and cpu != "none":
        return Precision("cpu", dtype, "float32, bf16 matmuls", "float32", threads, hardware,
                         f"CPU with {hardware}: the prefill's matmuls through oneDNN with bf16 allowed (same greedy"
                         f" tokens as float32), decoding in float32; dtype float32 turns it off, bfloat16 is"
                         f" faster but may differ{one}", prefill_matmul="bf16", decode_threads=1)
    if dtype == "float32":
        reason = "asked for by dtype" if requested != "auto" else "this CPU has no bf16 units"
        return Precision("cpu", dtype, dtype, dtype, threads, hardware, f"float32 throughout: {reason}{one}",
                         decode_threads=1)
    if dtype == "bfloat16":
        slow = "" if cpu != "none" else " (this CPU has no bf16 units: slow)"
        asked = (f"the default for a model this size on a CPU with {hardware}" if requested == "auto"
                 else f"asked for by dtype{slow}")
        return Precision("cpu", dtype, dtype, dtype, threads, hardware,
                         f"bf16 weights, {asked}: oneDNN for the prefill and beams, torch's bf16 kernels for one-row"
                         f" decoding (oneDNN's one-row path is slower), attention in float32; may differ from float32"
                         f" where tokens are nearly tied (dtype float32 gives float32 throughout){free}",
                         decode_onednn=False, decode_threads=None)
    return Precision("cpu", dtype, dtype, dtype, threads, hardware, f"{dtype}, asked for by dtype{one}",
                     decode_threads=1)


@contextlib.contextmanager
def phase(precision: Precision | None, which: str, rows: int = 1) -> Iterator[None]:
    """Run the block as ``which`` ("prefill" or "decode", of ``rows`` rows) of ``precision`` asks; the global
    flags and the thread count are put back after.

    Called on the worker thread only (the flags are process-wide, and that thread is the only one running the model).
    """
    if precision is None or precision.kind != "cpu":
        yield  # GPUs and MPS: nothing to switch
        return
    import torch

    mkldnn = torch.backends.mkldnn
    enabled, matmul, threads = mkldnn.enabled, mkldnn.matmul.fp32_precision, torch.get_num_threads()
    # oneDNN's bf16 path is slow for one row only: several rows (beams, a prefill chunk) keep it (5 rows of the
    # 125m shape a step: 30 ms with it, 45 without).
    mkldnn.enabled = precision.decode_onednn if which == "decode" and rows == 1 else True
    mkldnn.matmul.fp32_precision = precision.prefill_matmul if which == "prefill" else "none"
    wanted = phase_threads(precision, which, rows)
    if wanted != threads:
        torch.set_num_threads(wanted)  # about 10 µs: cheap beside one forward pass
    try:
        yield
    finally:
        mkldnn.enabled, mkldnn.matmul.fp32_precision = enabled, matmul
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


METER = CoreMeter()  # sampled on the worker thread only


def phase_threads(precision: Precision, which: str, rows: int = 1, meter: CoreMeter | None = None,
                  cores: int | None = None) -> int:
    """The intra-op threads of a CPU phase: the plan's fixed count, one for one-row decoding, else the free ones of
    ``cores`` (torch's own count: one per physical core)."""
    if precision.threads is not None:
        return precision.threads
    if which == "decode" and rows == 1 and precision.decode_threads is not None:
        return precision.decode_threads
    return (meter or METER).free(cores or default_threads())


_default_threads: int | None = None  # torch's own choice, before any plan changed it


def default_threads() -> int:
    """Torch's own intra-op thread count (one per physical core), as it was before any plan changed it."""
    global _default_threads
    import torch

    if _default_threads is None:
        _default_threads = torch.get_num_threads()
    return _default_threads


def apply_threads(precision: Precision) -> None:
    """Set the intra-op threads the plan asks for; call it on the thread that runs the model (OpenMP's count is per thread)."""
    import torch

    if precision.kind != "cpu":
        return
    torch.set_num_threads(precision.threads or default_threads())
