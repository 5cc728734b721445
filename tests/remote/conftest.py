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
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from galactica_lsp.tiny import TINY_MODEL_DIR

VLLM_PYTHON = Path(os.environ.get("GALACTICA_VLLM_PYTHON", Path.home() / ".cache/galactica-lsp/vllm-venv/bin/python"))
_ASKED = os.environ.get("GALACTICA_TEST_MODEL", "")
MODEL_DIR = Path(_ASKED) if _ASKED and Path(_ASKED).is_dir() else TINY_MODEL_DIR
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
    port: int
    api_key: str
    model_dir: Path
    log: Path
    process: subprocess.Popen | None

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
    config = json.loads((model_dir / "config.json").read_text())
    head = config["hidden_size"] // config["num_attention_heads"]
    if head not in CPU_HEAD_SIZES:
        pytest.skip(f"{model_dir}: head size {head} is not one vLLM's CPU attention supports ({CPU_HEAD_SIZES})")
    if not VLLM_PYTHON.exists():
        pytest.skip(f"vLLM is not installed ({VLLM_PYTHON} is absent): run scripts/setup-vllm.sh, "
                    "or python3 dev.py test tests/remote, which does")
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
    server = VllmServer(url, port, API_KEY, model_dir, log, process)
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
    """The session's vLLM server on the tiny model (or GALACTICA_TEST_MODEL, when that is a directory).

    While iterating, ``GALACTICA_TEST_VLLM_PORT=N`` uses a server already running on 127.0.0.1:N
    with the key ``GALACTICA_TEST_VLLM_KEY`` (started by hand with the arguments below) instead.
    """
    if os.environ.get("GALACTICA_TEST_VLLM_PORT"):
        port = int(os.environ["GALACTICA_TEST_VLLM_PORT"])
        yield VllmServer(f"http://127.0.0.1:{port}", port, os.environ.get("GALACTICA_TEST_VLLM_KEY", API_KEY),
                         MODEL_DIR, Path(os.devnull), None)
        return
    server = start_vllm(MODEL_DIR, free_port())
    try:
        yield server
    finally:
        stop_group(server.process)


GENERATED = "vllm:generation_tokens_total"  # vLLM's own count of the tokens it generated


def settled(observer, metric: str = GENERATED, quiet: float = 1.5, timeout: float = 60.0) -> float:
    """The counter's value once it has not moved for ``quiet`` seconds (vLLM updates /metrics as it goes)."""
    value, since, deadline = observer.metrics().value(metric), time.monotonic(), time.monotonic() + timeout
    while time.monotonic() - since < quiet and time.monotonic() < deadline:
        time.sleep(0.25)
        now = observer.metrics().value(metric)
        if now != value:
            value, since = now, time.monotonic()
    return value


class CancelAfterChecks:
    """A cancel check that turns True at its ``checks``-th call.

    The client checks at every streamed chunk and every 20 ms between them, and vLLM streams
    one chunk per token: the request is given up at most ``checks`` tokens (or 20 ms × ``checks``
    of waiting) into a reply of hundreds, whatever the machine's speed. The request is in
    vLLM by then (the client checks only once vLLM has answered with the stream's headers).
    A timer could fire after the last token on a quiet machine; waiting for ``/metrics`` to
    move could wait out the whole request while vLLM's API server is busy streaming.
    """

    def __init__(self, checks: int = 20):
        self.checks, self.calls = checks, 0

    def __call__(self) -> bool:
        self.calls += 1
        return self.calls >= self.checks


def assert_vllm_aborts(observer, send_cancelled, max_tokens: int, attempts: int = 3) -> None:
    """A request the client cancels mid-reply (``send_cancelled()``, which checks that it was cancelled):
    vLLM's own token counter moves by at most a few tokens after the disconnect, and stays short of
    ``max_tokens``.

    The counter is read as soon as the client has disconnected, then once it has settled. On a busy
    machine the tiny model can write the whole reply before the client has read a few chunks of it
    (vLLM keeps decoding while the client waits for the CPU): then there was nothing left to abort,
    and the request is sent again, up to ``attempts`` times.
    """
    for _ in range(attempts):
        before = settled(observer)
        send_cancelled()
        at_disconnect = observer.metrics().value(GENERATED)
        after = settled(observer)
        counts = f"before {before:.0f}, at the disconnect {at_disconnect:.0f}, settled {after:.0f}"
        if at_disconnect - before < max_tokens - 16:  # vLLM was still generating when the client went
            assert after - at_disconnect <= 16, counts  # measured here: vLLM stops within 3–8 tokens of it
            assert after - before < max_tokens, counts
            return
    pytest.fail(f"vLLM wrote all {max_tokens} tokens before the client could cancel, {attempts} times ({counts})")


class Proxy:
    """A TCP relay to the vLLM server, optionally speaking TLS to the client, that the test can take down.

    ``stop()`` closes the listening socket and every relayed connection (the client sees what a
    server restart looks like: kept-alive connections dropped, then refused connections);
    ``start()`` listens on the same port again.
    """

    def __init__(self, upstream_port: int, tls: ssl.SSLContext | None = None):
        self.upstream_port, self.tls = upstream_port, tls
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> Proxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        try:
            if self.tls is not None:
                client = self.tls.wrap_socket(client, server_side=True)
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        except OSError:
            client.close()
            return
        with self._lock:
            self._sockets += [client, upstream]

        def pump(source: socket.socket, sink: socket.socket) -> None:
            try:
                while data := source.recv(65536):
                    sink.sendall(data)
            except OSError:
                pass
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
        pump(client, upstream)

    def stop(self) -> None:
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept(); close() alone leaves it listening
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made with the openssl command (skip when it is absent)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="session")
def local_engine():
    """The same model loaded here with the torch engine: what the remote engine's answers are compared with."""
    from galactica_lsp.engine.service import Engine

    engine = Engine()
    engine.load(str(MODEL_DIR), device="cpu", dtype="float32", context_tokens=512, sequences=5, engine="torch")
    yield engine
    engine.shutdown()


@pytest.fixture(scope="session")
def remote_engine(vllm_server):
    """An Engine whose model is the vLLM server's (engine vllm), loaded as the server loads it."""
    from galactica_lsp.engine.service import Engine

    os.environ["GALACTICA_LSP_API_KEY"] = vllm_server.api_key
    engine = Engine()
    try:
        engine.load(str(MODEL_DIR), engine="vllm", endpoint=vllm_server.url)
    finally:
        del os.environ["GALACTICA_LSP_API_KEY"]
    yield engine
    engine.shutdown()
