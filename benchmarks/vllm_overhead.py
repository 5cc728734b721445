"""The server's overhead on the vllm engine: the typing session through it beside the same requests sent straight to vLLM.

One run:

1. vLLM (the CPU build ``scripts/setup-vllm.sh`` installs, or ``--vllm-python``) is started on
   127.0.0.1 with the model (the bundled tiny model by default; a size of ``../shared/galactica``
   configs gives random weights of that shape), in its own process group, stopped at the end;
   ``--endpoint URL`` uses a vLLM already running instead.
2. Our server (``python -m galactica_lsp``, engine vllm) reaches it through a relay on
   127.0.0.1 that passes every byte on unchanged and records each ``/v1/completions`` request
   body. The direct requests below go through the same relay, so its cost is on both sides.
3. The typing session of ``typing_session.py`` (a key every ``--interval`` ms, ghost text after
   each key, superseded requests, pauses): the latencies a user meets over vLLM.
4. Paired, with the server idle: for each keystroke the session answered with a suggestion, the
   same document is opened under a new URI and ghost text asked for once to learn the request
   the server sends vLLM for it (untimed: it also fills vLLM's prefix cache), then that request
   is sent straight to vLLM's ``/v1/completions`` (streamed, read to the end, as the server
   reads it) and timed, then the document is opened under another new URI and, once the server
   has read it, the ghost text is asked for again over LSP and timed (its request to vLLM must
   be the same one). Overhead = LSP round trip − direct
   round trip, per keystroke; ratio = LSP / direct.

Prints p50/p95 of each and the ratio (target: overhead ≤ 10 ms p50); writes ``--out``.json.

    python benchmarks/vllm_overhead.py                  # tiny model, vLLM started here
    python benchmarks/vllm_overhead.py --model mini     # random weights of the 125m shape
    python benchmarks/vllm_overhead.py --endpoint http://127.0.0.1:8000 --model /path/served/model
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, not an installed one

from harness import LspClient, percentiles, prepare_model, ratio, temporary_directory  # noqa: E402
from typing_session import Document, build_document, engine_time, texts_of, typing  # noqa: E402

from galactica_lsp.engine.catalogue import TINY_MODEL_DIR  # noqa: E402
from galactica_lsp.engine.remote import API_KEY_ENV  # noqa: E402

VLLM_PYTHON = Path(os.environ.get("GALACTICA_VLLM_PYTHON", Path.home() / ".cache/galactica-lsp/vllm-venv/bin/python"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- vLLM ------------------------------------------------------------------------------------


def start_vllm(model_dir: str, port: int, key: str, log: Path, timeout: float = 900) -> subprocess.Popen:
    """vLLM's OpenAI server on 127.0.0.1:port in its own process group; returns once /health answers."""
    if not VLLM_PYTHON.exists():
        sys.exit(f"vLLM is not installed ({VLLM_PYTHON}): run scripts/setup-vllm.sh, or pass --endpoint")
    env = {**os.environ, "VLLM_HOST_IP": "127.0.0.1", "VLLM_CPU_KVCACHE_SPACE": "2", "VLLM_NO_USAGE_STATS": "1",
           "DO_NOT_TRACK": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop(API_KEY_ENV, None)
    command = [str(VLLM_PYTHON), "-m", "vllm.entrypoints.openai.api_server", "--model", model_dir,
               "--host", "127.0.0.1", "--port", str(port), "--api-key", key, "--dtype", "float32",
               "--max-model-len", "1024", "--enable-prompt-tokens-details"]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"vLLM exited with {process.returncode}; its log: {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as reply:
                if reply.status == 200:
                    return process
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(1)
    stop_vllm(process)
    sys.exit(f"vLLM not healthy after {timeout:.0f} s; its log: {log}")


def stop_vllm(process: subprocess.Popen) -> None:
    """SIGTERM to the process group (vLLM's engine runs in child processes), SIGKILL if it lingers."""
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            break


# -- the relay ---------------------------------------------------------------------------------


class RecordingRelay:
    """A TCP relay to vLLM that records the body of each ``POST /v1/completions`` going through it."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.bodies: list[dict] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def take(self) -> list[dict]:
        """The bodies recorded since the last call."""
        with self._lock:
            bodies, self.bodies = self.bodies, []
        return bodies

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        upstream = socket.create_connection(self.upstream)
        for sock in (client, upstream):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=self._pump, args=(upstream, client, None), daemon=True).start()
        self._pump(client, upstream, bytearray())

    def _pump(self, source: socket.socket, sink: socket.socket, requests: bytearray | None) -> None:
        try:
            while data := source.recv(65536):
                if requests is not None:  # client to vLLM: record the requests (the bytes are passed on before)
                    sink.sendall(data)
                    requests += data
                    self._record(requests)
                else:
                    sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _record(self, buffer: bytearray) -> None:
        while (end := buffer.find(b"\r\n\r\n")) >= 0:
            head = bytes(buffer[:end]).decode("latin-1").split("\r\n")
            length = next((int(h.split(":", 1)[1]) for h in head[1:] if h.lower().startswith("content-length:")), 0)
            if len(buffer) < end + 4 + length:
                return
            body = bytes(buffer[end + 4 : end + 4 + length])
            del buffer[: end + 4 + length]
            if head[0].startswith("POST ") and "/v1/completions" in head[0]:
                with self._lock:
                    self.bodies.append(json.loads(body))


class Direct:
    """Requests straight to vLLM's /v1/completions (through the relay) on one kept-alive connection, timed to the last byte."""

    def __init__(self, port: int, key: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port)
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}",
                        "Accept": "text/event-stream"}

    def send(self, body: dict) -> float:
        payload = json.dumps(body).encode()
        started = time.perf_counter()
        self.conn.request("POST", "/v1/completions", body=payload, headers=self.headers)
        response = self.conn.getresponse()
        data = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status != 200:
            raise RuntimeError(f"vLLM answered {response.status}: {data[:200]!r}")
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return elapsed


# -- the run -----------------------------------------------------------------------------------


async def paired(client: LspClient, relay: RecordingRelay, direct: Direct, texts: list[str]) -> list[dict]:
    """Per served keystroke: the LSP round trip and the direct round trip of the same vLLM request."""
    pairs = []
    for i, text in enumerate(texts):
        await Document(client, f"file:///bench/learn-{i}.tex", text).ghost()  # learn the request; warms vLLM's cache
        learned = relay.take()
        if not learned:
            pairs.append({"key": i, "skipped": "the server sent vLLM no request"})
            continue
        direct_ms = sum(direct.send(body) for body in learned)
        relay.take()
        timed = Document(client, f"file:///bench/timed-{i}.tex", text)
        await client.status()  # the document is open and read before the clock starts, as while typing
        ms, result = await timed.ghost()
        sent = relay.take()
        if sent != learned:
            pairs.append({"key": i, "skipped": "the timed request to vLLM differed from the learned one"})
            continue
        job_ms = await engine_time(client, "inline completion")  # the worker's job: prompt, HTTP, stop rules
        pairs.append({"key": i, "lsp_ms": ms, "direct_ms": direct_ms, "overhead_ms": ms - direct_ms,
                      "engine_job_ms": job_ms, "requests": len(sent), "prompt_tokens": len(sent[0]["prompt"]),
                      "answered": bool(texts_of(result))})
    return pairs


async def run(args, model: str, endpoint: str, key: str) -> dict:
    where = urllib.parse.urlsplit(endpoint)
    relay = RecordingRelay((where.hostname, where.port or 80))
    os.environ[API_KEY_ENV] = key  # our server reads its key from the environment it is started in
    client = LspClient()
    settings = {"engine": "vllm", "endpoint": relay.url, "maxNewTokens": args.new_tokens, "timeLimit": 60.0}
    started = time.perf_counter()
    await client.start(model, "cpu", settings)
    await client.wait_ready()
    ready_s = time.perf_counter() - started
    document = build_document(args.doc_tokens)
    await Document(client, "file:///bench/first.tex", document).ghost()
    session = await typing(client, args, document)
    relay.take()
    texts = [k["text"] for k in session["served"]][: args.pairs]
    pairs = await paired(client, relay, Direct(relay.port, key), texts)
    status = await client.status()
    await client.stop()
    done = [p for p in pairs if "skipped" not in p]
    lsp, direct = percentiles([p["lsp_ms"] for p in done]), percentiles([p["direct_ms"] for p in done])
    return {
        "model": model, "endpoint": endpoint, "ready_s": round(ready_s, 2),
        "typing": {
            "keys": len(session["keys"]),
            "kinds": {kind: sum(k["kind"] == kind for k in session["keys"]) for kind in ("suggestion", "superseded", "empty")},
            "served_ms": percentiles([k["latency_ms"] for k in session["served"]]),
        },
        "paired": {"pairs": pairs, "lsp_ms": lsp, "direct_ms": direct,
                   "overhead_ms": percentiles([p["overhead_ms"] for p in done]),
                   # where it goes: the LSP side (round trip − the worker's job) and the job's own (job − direct)
                   "lsp_side_ms": percentiles([p["lsp_ms"] - p["engine_job_ms"] for p in done if p["engine_job_ms"]]),
                   "job_side_ms": percentiles([p["engine_job_ms"] - p["direct_ms"] for p in done if p["engine_job_ms"]]),
                   "p50_ratio": ratio(lsp["p50"], direct["p50"]), "p95_ratio": ratio(lsp["p95"], direct["p95"]),
                   "skipped": [p for p in pairs if "skipped" in p]},
        "status": {k: status.get(k) for k in ("state", "engine", "lastLatencies")},
    }


def report(r: dict, target: float) -> str:
    def ms(p):
        return "-" if p["p50"] is None else f"p50 {p['p50']:7.1f} ms  p95 {p['p95']:7.1f} ms  (n={p['n']})"

    t, p = r["typing"], r["paired"]
    overhead = p["overhead_ms"]["p50"]
    verdict = "-" if overhead is None else ("met" if overhead <= target else "MISSED")
    return "\n".join([
        f"{r['model']} on vLLM at {r['endpoint']}; our server ready in {r['ready_s']} s",
        f"typing session over vLLM ({t['keys']} keys: {t['kinds']})",
        f"  answered with a suggestion          {ms(t['served_ms'])}",
        "the same ghost-text requests, paired (server idle):",
        f"  through our server (LSP)            {ms(p['lsp_ms'])}",
        f"  straight to vLLM /v1/completions    {ms(p['direct_ms'])}",
        f"  overhead (LSP − direct)             {ms(p['overhead_ms'])}   target ≤ {target:.0f} ms p50: {verdict}",
        f"    of it: LSP side (round trip − job) {ms(p['lsp_side_ms'])}",
        f"    of it: the job (job − direct)      {ms(p['job_side_ms'])}",
        f"  ratio LSP/direct: p50 {p['p50_ratio']}  p95 {p['p95_ratio']}"
        + (f"; {len(p['skipped'])} keystrokes skipped" if p["skipped"] else ""),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(TINY_MODEL_DIR),
                        help="a checkpoint directory, or a size of ../shared configs (random weights); default the tiny model")
    parser.add_argument("--endpoint", default="", help="a vLLM already running, http:// (its key in GALACTICA_LSP_API_KEY)")
    parser.add_argument("--doc-tokens", type=int, default=600)
    parser.add_argument("--interval", type=float, default=150, help="ms between keys")
    parser.add_argument("--chars", type=int, default=0, help="type only this many characters (0: the whole sentence)")
    parser.add_argument("--pause-every", type=int, default=3, help="words between pauses")
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--pairs", type=int, default=30, help="served keystrokes to replay paired")
    parser.add_argument("--target-ms", type=float, default=10.0)
    parser.add_argument("--out", default="vllm_overhead", help="path stem of the .json written")
    args = parser.parse_args()
    with temporary_directory() as tmp:
        model, _ = prepare_model(args.model, Path(tmp))
        process = None
        if args.endpoint:
            endpoint, key = args.endpoint.rstrip("/"), os.environ.get(API_KEY_ENV, "")
        else:
            port, key = free_port(), secrets.token_hex(16)
            log = Path(tempfile.mkdtemp(prefix="galactica-vllm-")) / "vllm.log"
            started = time.monotonic()
            process = start_vllm(model, port, key, log)
            endpoint = f"http://127.0.0.1:{port}"
            print(f"vLLM ready in {time.monotonic() - started:.0f} s (log: {log})", file=sys.stderr)
        try:
            result = asyncio.run(run(args, model, endpoint, key))
        finally:
            if process is not None:
                stop_vllm(process)
    print(report(result, args.target_ms))
    out = Path(args.out).with_suffix(".json")
    out.write_text(json.dumps(result, indent=1))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
