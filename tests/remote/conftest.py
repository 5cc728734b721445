"""The remote-engine tests' fixtures: a real vLLM server (its CPU build) serving the tiny model.

The server runs from the venv ``scripts/setup-vllm.sh`` makes outside the repository
(``python3 dev.py test tests/remote`` runs that script and sets ``GALACTICA_VLLM_PYTHON``), as
``python -m vllm.entrypoints.openai.api_server`` on 127.0.0.1 at a free port, in its own process
group, stopped (SIGTERM, then SIGKILL) when the session ends. Start-up takes about 100 s (the
compile warm-up), so one server serves the whole session. Without the venv every test here is
skipped with the reason. Every test in this folder is marked ``remote``.

The server gets an API key (the tests prove it is sent) and ``--block-size 32`` so that short
prompts fill whole cache blocks and prefix-cache hits show in ``/metrics``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from galactica_lsp.tiny import TINY_MODEL_DIR

VLLM_PYTHON = Path(os.environ.get("GALACTICA_VLLM_PYTHON", Path.home() / ".cache/galactica-lsp/vllm-venv/bin/python"))
MODEL_DIR = Path(os.environ["GALACTICA_TEST_MODEL"]) if Path(os.environ.get("GALACTICA_TEST_MODEL", "")).is_dir() \
    else TINY_MODEL_DIR
API_KEY = "test-key-0123456789"
START_TIMEOUT = 900  # seconds; about 100 s on a quiet machine, several times that on a busy one
# vLLM's CPU attention kernels (vllm/v1/attention/backends/cpu_attn.py)
CPU_HEAD_SIZES = (32, 64, 80, 96, 112, 128, 160, 192, 224, 256, 512)


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.remote)


@dataclass
class VllmServer:
    url: str
    api_key: str
    model_dir: Path
    log: Path
    process: subprocess.Popen

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
            return reply.status == 200
    except (urllib.error.URLError, OSError):
        return False


def stop_group(process: subprocess.Popen) -> None:
    """SIGTERM to the server's process group (vLLM runs its engine in child processes), then SIGKILL."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        except ProcessLookupError:
            pass
    try:  # children that outlived the leader
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def start_vllm(model_dir: Path, port: int, *extra: str) -> VllmServer:
    if not VLLM_PYTHON.exists():
        pytest.skip(f"vLLM is not installed ({VLLM_PYTHON} is absent): run scripts/setup-vllm.sh, "
                    "or python3 dev.py test tests/remote, which does")
    config = json.loads((model_dir / "config.json").read_text())
    head = config["hidden_size"] // config["num_attention_heads"]
    if head not in CPU_HEAD_SIZES:
        pytest.skip(f"{model_dir}: head size {head} is not one vLLM's CPU attention supports ({CPU_HEAD_SIZES})")
    url = f"http://127.0.0.1:{port}"
    log = Path(tempfile.mkdtemp(prefix="galactica-vllm-")) / "vllm.log"
    env = {
        **os.environ,
        "VLLM_HOST_IP": "127.0.0.1",
        "VLLM_CPU_KVCACHE_SPACE": "1",  # GiB; the tiny model needs little
        "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    env.pop("GALACTICA_LSP_API_KEY", None)
    command = [
        str(VLLM_PYTHON), "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(model_dir), "--host", "127.0.0.1", "--port", str(port),
        "--api-key", API_KEY, "--dtype", "float32", "--max-model-len", "1024", "--block-size", "32",
        "--enable-prompt-tokens-details", "--max-num-seqs", "16", *extra,
    ]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True)
    server = VllmServer(url, API_KEY, model_dir, log, process)
    deadline = time.monotonic() + START_TIMEOUT
    while not _healthy(url):
        if process.poll() is not None:
            stop_group(process)
            pytest.fail(f"vLLM exited with {process.returncode} while starting:\n{server.log_tail()}")
        if time.monotonic() > deadline:
            stop_group(process)
            pytest.fail(f"vLLM not healthy after {START_TIMEOUT} s:\n{server.log_tail()}")
        time.sleep(1)
    return server


@pytest.fixture(scope="session")
def vllm_server():
    """The session's vLLM server on the tiny model (or GALACTICA_TEST_MODEL, when that is a directory)."""
    server = start_vllm(MODEL_DIR, free_port())
    try:
        yield server
    finally:
        stop_group(server.process)
