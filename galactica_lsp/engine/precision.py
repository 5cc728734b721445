"""What each phase of a request runs in on this machine: precision per phase, and threads.

Owns: what the CPU can do for bfloat16 (AMX, AVX512-BF16, neither:
:func:`cpu_bf16`); the :class:`Precision` plan that turns the ``dtype``
setting, the placement and the model's size into the weights' dtype, the
matmul mode of the prefill and of decoding, and the intra-op threads, with
the reason for each choice (the status shows it); and :func:`phase`, the
context the torch backend runs a prefill or a decoding step in.

The choices, measured on this project's machine (``benchmarks/precision.py``):

- CPU, ``dtype`` auto, with bf16 units (AVX512-BF16 or AMX): float32 weights;
  the prefill's matmuls go through oneDNN with bf16 allowed
  (``torch.backends.mkldnn.matmul.fp32_precision = "bf16"``), decoding stays
  float32 through MKL (one row: oneDNN is no faster). Greedy tokens were
  identical on the tiny model's memorised prompts (tested) and on the 125m
  shape; without AMX oneDNN keeps float32 arithmetic here (its kernel is
  faster than MKL's on this CPU), with AMX it multiplies in bf16.
- CPU without bf16 units, or ``dtype`` float32: float32 throughout.
- CPU, ``dtype`` bfloat16 (the faster, not identical mode, asked for by
  name): bf16 weights, oneDNN on for the prefill, off for decoding (its
  one-row path made a step 1.9× slower); near-ties may flip.
- GPUs: bf16 where supported, else fp16, both phases; MPS: fp16.
- Threads (``benchmarks/threads.py``): decoding runs on one CPU thread. A
  decoding step is hundreds of one-row operations; on every core each of
  them waits for the slowest thread, and a core the editor or a build is
  using makes them all wait. Measured on this 2-core machine, one thread /
  two: 125m shape 0.23 per token (0.44 for five beams), 1.3B shape 0.32
  (0.45), and no worse than two threads beside a busy process. The prefill
  (few, big matrix products) runs on every core but one, leaving that one to
  the editor and to the server's event loop (one thread on a 2-core machine:
  there one thread / two was 0.27 for the 125m shape's 512-token prefill
  and 0.71 for the 1.3B shape's 256). A model under ``SMALL_MODEL_PARAMETERS``
  runs on one thread in both phases (the tiny model's warm-up took 3.2 s on
  two threads, 0.05 s on one).

Nothing here imports torch at module level: the settings and ``--help`` read
``DTYPES`` through ``devices``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

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
    threads: int | None  # intra-op threads on a CPU for the prefill; None: torch's default (one per core)
    hardware: str  # "AMX", "AVX512-BF16", "no bf16 units", or the GPU's kind
    why: str
    prefill_matmul: str = "none"  # torch.backends.mkldnn.matmul.fp32_precision during the prefill
    decode_onednn: bool = True  # torch.backends.mkldnn.enabled while decoding
    decode_threads: int | None = None  # intra-op threads while decoding on a CPU; None: as the prefill

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


def prefill_threads(cores: int | None = None) -> int:
    """Every core but one (at least one): the prefill's intra-op threads; ``cores`` defaults to torch's own count."""
    return max(1, (cores if cores is not None else default_threads()) - 1)


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
    threads = 1 if parameters < SMALL_MODEL_PARAMETERS else prefill_threads()
    one = ("; one thread (a small model)" if parameters < SMALL_MODEL_PARAMETERS else
           f"; prefill on {threads} thread{'s' if threads > 1 else ''} (every core but one), decoding on one")
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
        return Precision("cpu", dtype, dtype, dtype, threads, hardware,
                         f"bf16 weights, asked for by dtype{slow}: oneDNN for the prefill, not for decoding (its"
                         f" one-row path is slower); may differ from float32 where tokens are nearly tied{one}",
                         decode_onednn=False, decode_threads=1)
    return Precision("cpu", dtype, dtype, dtype, threads, hardware, f"{dtype}, asked for by dtype{one}",
                     decode_threads=1)


@contextlib.contextmanager
def phase(precision: Precision | None, which: str) -> Iterator[None]:
    """Run the block as ``which`` ("prefill" or "decode") of ``precision`` asks; the global flags are put back after.

    Called on the worker thread only (the flags are process-wide, and that thread is the only one running the model).
    """
    if precision is None or precision.kind != "cpu":
        yield  # GPUs and MPS: nothing to switch
        return
    import torch

    mkldnn = torch.backends.mkldnn
    enabled, matmul, threads = mkldnn.enabled, mkldnn.matmul.fp32_precision, torch.get_num_threads()
    mkldnn.enabled = precision.decode_onednn if which == "decode" else True
    mkldnn.matmul.fp32_precision = precision.prefill_matmul if which == "prefill" else "none"
    if which == "decode" and precision.decode_threads is not None:
        torch.set_num_threads(precision.decode_threads)  # about 10 µs: cheap beside one decoding step
    try:
        yield
    finally:
        mkldnn.enabled, mkldnn.matmul.fp32_precision = enabled, matmul
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


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
