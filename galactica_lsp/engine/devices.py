"""Where the model runs: device choice, default dtype and free memory.

Owns: turning the user's ``device``/``dtype`` settings into a :class:`Placement`
(``auto`` picks CUDA, then MPS, then CPU), and reading how much memory each
accelerator has free. The device is data carried by the placement; the rest of
the engine never branches on it except through the helpers here. torch is
imported by the functions that ask it, not by importing this module (the
settings and the command line's help read ``DEVICES`` and ``DTYPES``).
"""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

DEVICES = ("auto", "cuda", "mps", "cpu")
DTYPES = ("auto", "float32", "float16", "bfloat16")
_DTYPE_ALIASES = {"fp32": "float32", "fp16": "float16", "half": "float16", "bf16": "bfloat16"}


class DeviceError(ValueError):
    """A requested device or dtype that this machine cannot provide."""


@dataclass(frozen=True)
class Placement:
    """A device kind, the dtype to load in, and how much memory each device has free."""

    kind: str  # "cuda" | "mps" | "cpu"
    dtype: str  # "float32" | "float16" | "bfloat16"
    free_bytes: tuple[int, ...]  # one entry per device of that kind (CPU: one)
    names: tuple[str, ...]

    @property
    def torch_dtype(self) -> torch.dtype:
        import torch

        return getattr(torch, self.dtype)

    @property
    def torch_device(self) -> torch.device:
        import torch

        return torch.device("cuda:0" if self.kind == "cuda" else self.kind)

    def describe(self) -> str:
        return f"{self.kind} ({', '.join(self.names)}), {self.dtype}"


def normalise_dtype(dtype: str) -> str:
    value = _DTYPE_ALIASES.get(dtype.lower(), dtype.lower())
    if value not in DTYPES:
        raise DeviceError(f"unknown dtype {dtype!r}: choose one of {', '.join(DTYPES)}")
    return value


def _available(kind: str) -> bool:
    import torch

    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    return kind == "cpu"


def default_dtype(kind: str) -> str:
    """fp32 on CPU, until the model's size is known (``precision.auto_cpu_dtype`` then picks bf16 for a model of
    50M parameters or more on a CPU with bf16 units; without them bf16 made the prefill 5× slower here); fp16 on
    MPS; bf16 on CUDA where the GPU supports it (no fp16 overflow), else fp16."""
    import torch

    if kind == "cuda":
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    if kind == "mps":
        return "float16"
    return "float32"


def free_memory(kind: str) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """Free bytes and names of each device of ``kind``."""
    import torch

    if kind == "cuda":
        count = torch.cuda.device_count()
        free = tuple(torch.cuda.mem_get_info(i)[0] for i in range(count))
        return free, tuple(torch.cuda.get_device_name(i) for i in range(count))
    if kind == "mps":
        limit = torch.mps.recommended_max_memory()
        return (max(0, limit - torch.mps.driver_allocated_memory()),), ("Apple MPS",)
    return (psutil.virtual_memory().available,), ("CPU",)


def place(device: str = "auto", dtype: str = "auto") -> Placement:
    """Resolve the settings to a placement, or raise :class:`DeviceError` saying why not."""
    import torch

    device = device.lower()
    if device not in DEVICES:
        raise DeviceError(f"unknown device {device!r}: choose one of {', '.join(DEVICES)}")
    dtype = normalise_dtype(dtype)
    if device == "auto":
        kind = next(k for k in ("cuda", "mps", "cpu") if _available(k))
    elif _available(device):
        kind = device
    else:
        raise DeviceError(f"device {device!r} is not available on this machine (torch {torch.__version__})")
    if dtype == "auto":
        dtype = default_dtype(kind)
    if dtype == "bfloat16" and kind == "cuda" and not torch.cuda.is_bf16_supported():
        raise DeviceError("this GPU does not support bfloat16: use float16")
    if dtype == "float16" and kind == "cpu":
        log.warning("float16 on CPU is slow and many CPU kernels lack it; auto picks float32 or bfloat16 on a CPU")
    free, names = free_memory(kind)
    return Placement(kind=kind, dtype=dtype, free_bytes=free, names=names)


def release_memory(kind: str) -> None:
    """Hand memory freed by dropped tensors (a cancelled request's cache, an unloaded model) back."""
    import torch

    gc.collect()
    if kind == "cuda":
        torch.cuda.empty_cache()
    elif kind == "mps":
        torch.mps.empty_cache()
