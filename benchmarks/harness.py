"""What the latency benchmarks share: a model to serve, the real server over LSP, the naive path, the floor.

- :func:`prepare_model`: a checkpoint directory: a real one as given, or a
  randomly initialised model of a size's exact shape (``../shared/galactica``
  configs, the real tokenizer) saved to a temporary directory;
- :class:`LspClient`: a minimal JSON-RPC client that starts
  ``python -m galactica_lsp`` on stdio and times each request;
- :class:`Naive`: what a user would write with transformers: the full prompt
  to ``generate()`` for every request;
- :func:`measure_floor`: the machine's memory bandwidth and matmul rate, and
  from them the least time a prefill or a decoding step of this model can take.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
REFERENCE = Path(os.environ.get("GALACTICA_REFERENCE_DIR", REPO.parent / "shared" / "galactica"))


def prepare_model(model: str, workdir: Path) -> tuple[str, str]:
    """(a checkpoint directory or hub id, what it is): a size name gives random weights of that shape."""
    config_path = REFERENCE / "configs" / f"{model}.json"
    if not config_path.is_file():
        return model, "checkpoint"
    from transformers import AutoTokenizer, OPTConfig, OPTForCausalLM

    from galactica_lsp.engine.galactica import configure_tokenizer

    torch.manual_seed(0)
    config = OPTConfig.from_dict(json.loads(config_path.read_text()))
    directory = workdir / f"random-{model}"
    OPTForCausalLM(config).eval().save_pretrained(directory)
    tokenizer = configure_tokenizer(AutoTokenizer.from_pretrained(str(REFERENCE / "tokenizer")))
    tokenizer.save_pretrained(directory)
    return str(directory), f"random weights, shape of {config_path.name}"


def temporary_directory() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="galactica-bench-")


def timed(run) -> float:
    """Milliseconds one call of ``run`` takes."""
    started = time.perf_counter()
    run()
    return (time.perf_counter() - started) * 1000


def percentiles(values: list[float]) -> dict:
    """p50, p95 and the count, in the values' unit; None when there are none."""
    if not values:
        return {"n": 0, "p50": None, "p95": None}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"n": len(values), "p50": statistics.median(ordered), "p95": p95}


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


# -- the floor -----------------------------------------------------------------


def measure_floor(model_dir: str, device: str, dtype: torch.dtype) -> dict:
    """Bandwidth (bytes/s, reading a buffer larger than any cache) and matmul rate (FLOP/s) here, and the model's bytes.

    A decoding step reads every weight once: its floor is weights / bandwidth.
    A prefill of n tokens does 2 × parameters × n FLOPs: its floor is that / matmul rate.
    """
    from transformers import AutoConfig

    from galactica_lsp.engine.catalogue import ModelShape

    shape = ModelShape.from_config(AutoConfig.from_pretrained(model_dir).to_dict())
    element = torch.tensor([], dtype=dtype).element_size()
    weights = shape.parameters * element
    # The best of three ways to stream a buffer larger than any cache: a sum, a copy, a matrix-vector product.
    count = 256 * 2**20 // element
    buffer = torch.empty(count, dtype=dtype, device=device).uniform_()
    target = torch.empty_like(buffer)
    vector = torch.randn(1, 8192, dtype=dtype, device=device)
    streams = [
        (lambda: buffer.sum(), count * element),
        (lambda: target.copy_(buffer), 2 * count * element),
        (lambda: vector @ buffer.view(-1, 8192).T, count * element),
    ]
    bandwidth = max(size / _best_time(run, device, 5) for run, size in streams)
    buffer = target = streams = None  # frees the buffers (the lambdas are done with them)
    n = 2048
    a = torch.randn(n, n, dtype=dtype, device=device)
    b = torch.randn(n, n, dtype=dtype, device=device)
    flops = 2 * n**3 / _best_time(lambda: a @ b, device, 3)
    return {
        "weight_bytes": weights,
        "parameters": shape.parameters,
        "bandwidth_GBps": round(bandwidth / 1e9, 2),
        "matmul_GFLOPs": round(flops / 1e9, 1),
        "decode_ms_per_token": weights / bandwidth * 1000,
        "prefill_ms_per_token": 2 * shape.parameters / flops * 1000,
    }


def _best_time(run, device: str, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        _sync(device)
        started = time.perf_counter()
        run()
        _sync(device)
        best = min(best, time.perf_counter() - started)
    return best


def floor_ms(floor: dict, prefill_tokens: int, new_tokens: int, rows: int = 1) -> float:
    """The least time for a request: its prefill at the matmul rate, then each step at the bandwidth.

    Rows (beams) share one read of the weights per step; their extra FLOPs are left out (a lower bound).
    """
    return prefill_tokens * floor["prefill_ms_per_token"] + new_tokens * floor["decode_ms_per_token"]


# -- the naive path --------------------------------------------------------------


class Naive:
    """transformers as a user would call it: the whole prompt to ``generate()`` every time, no cache kept."""

    def __init__(self, model_dir: str, device: str, dtype: torch.dtype):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from galactica_lsp.engine.galactica import configure_tokenizer

        self.device = device
        self.directory = model_dir
        self.tokenizer = configure_tokenizer(AutoTokenizer.from_pretrained(model_dir))
        self.model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to(device).eval()
        self.generate("warm up", 2)

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def generate(self, prompt: str | list[int], new_tokens: int, **kwargs) -> tuple[float, int]:
        """(milliseconds, tokens generated) for one call, greedy unless kwargs say otherwise."""
        ids = self.encode(prompt) if isinstance(prompt, str) else prompt
        inputs = torch.tensor([ids], device=self.device)
        _sync(self.device)
        started = time.perf_counter()
        with torch.inference_mode():
            out = self.model.generate(
                inputs, attention_mask=torch.ones_like(inputs), max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                do_sample=False, pad_token_id=1, eos_token_id=2, **kwargs,
            )
        _sync(self.device)
        return (time.perf_counter() - started) * 1000, out.shape[1] - inputs.shape[1]


class TransformersForward:
    """transformers' ``OPTForCausalLM`` behind the two calls the decoding loop makes of ``opt.OPT`` (``new_cache``,
    ``model(ids, cache)``): the engine's forward pass before it had its own, for a side-by-side figure.

    Its cache is transformers' ``DynamicCache`` (``GrowingCache`` is not a transformers ``Cache``), its attention
    transformers' sdpa in the weights' dtype.
    """

    def __init__(self, model):
        self.model = model
        self.device = model.get_input_embeddings().weight.device
        self.config = model.config

    def new_cache(self, prefix=None):
        from transformers import DynamicCache

        if prefix:
            raise ValueError("a stored prefix is the server's own cache: run this one without a PrefixCache")
        return DynamicCache()

    @torch.inference_mode()
    def __call__(self, ids: torch.Tensor, cache, every_position: bool = False) -> torch.Tensor:
        out = self.model(input_ids=ids.to(self.device), cache=cache, use_cache=True,
                         logits_to_keep=0 if every_position else 1)
        return out.logits if every_position else out.logits[:, -1]


# -- the real server over LSP ----------------------------------------------------


class LspClient:
    """Just enough of an LSP client: requests with their round-trip times, the server's status notifications."""

    def __init__(self):
        self.process: asyncio.subprocess.Process | None = None
        self._next_id = 0
        self._pending: dict[int, asyncio.Future] = {}
        self.ready = asyncio.Event()
        self.statuses: list[dict] = []
        self._reader: asyncio.Task | None = None

    async def start(self, model: str, device: str, settings: dict) -> None:
        env = {**os.environ, "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"), "TRANSFORMERS_VERBOSITY": "error"}
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "galactica_lsp", "--model", model, "--device", device,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=sys.stderr, env=env, cwd=REPO,
        )
        self._reader = asyncio.create_task(self._read())
        capabilities = {"textDocument": {"inlineCompletion": {}, "hover": {"contentFormat": ["markdown"]},
                                         "completion": {"completionItem": {"snippetSupport": False}}}}
        await self.request("initialize", {"processId": os.getpid(), "rootUri": REPO.as_uri(),
                                          "capabilities": capabilities,
                                          "initializationOptions": {"galactica": {"model": model, "device": device,
                                                                                  **settings}}})
        self.notify("initialized", {})

    async def wait_ready(self, timeout: float = 600) -> None:
        await asyncio.wait_for(self.ready.wait(), timeout)

    def _send(self, message: dict) -> None:
        body = json.dumps(message).encode()
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def notify(self, method: str, params) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def send_request(self, method: str, params) -> asyncio.Future:
        """Send a request; the future resolves to (milliseconds, result)."""
        self._next_id += 1
        future = asyncio.get_running_loop().create_future()
        future.sent = time.perf_counter()
        self._pending[self._next_id] = future
        self._send({"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params})
        return future

    async def request(self, method: str, params):
        return (await self.send_request(method, params))[1]

    async def timed(self, method: str, params) -> tuple[float, object]:
        return await self.send_request(method, params)

    async def _read(self) -> None:
        stream = self.process.stdout
        while True:
            length = 0
            while True:
                line = await stream.readline()
                if not line:
                    return
                line = line.strip()
                if not line:
                    break
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            message = json.loads(await stream.readexactly(length))
            received = time.perf_counter()
            if "id" in message and "method" not in message:
                future = self._pending.pop(message["id"], None)
                if future is not None and not future.done():
                    if "error" in message:
                        future.set_exception(RuntimeError(message["error"].get("message")))
                    else:
                        future.set_result(((received - future.sent) * 1000, message.get("result")))
            elif "id" in message:  # a request from the server: configuration, progress tokens
                self._send({"jsonrpc": "2.0", "id": message["id"], "result": None})
            elif message.get("method") == "galactica/status":
                self.statuses.append(message["params"])
                if message["params"].get("state") == "ready":
                    self.ready.set()
                elif message["params"].get("state") == "error":
                    raise RuntimeError(f"the server failed: {message['params'].get('message')}")

    async def status(self) -> dict:
        return await self.request("workspace/executeCommand", {"command": "galactica.status", "arguments": []})

    async def stop(self) -> None:
        try:
            await asyncio.wait_for(self.request("shutdown", None), 10)
            self.notify("exit", None)
            await asyncio.wait_for(self.process.wait(), 10)
        except (asyncio.TimeoutError, ConnectionError, RuntimeError):
            self.process.kill()
        if self._reader:
            self._reader.cancel()
