"""Finding and loading models without a network, and the command line's exit codes and messages."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest

from galactica_lsp.cli import CITE_TOKENS, _new_tokens, build_parser
from galactica_lsp.engine.loading import ModelError, _hub_unreachable, load, resolve
from galactica_lsp.settings import Settings
from galactica_lsp.tiny import TINY_MODEL_DIR

CLI = [sys.executable, "-m", "galactica_lsp"]


def run(*args: str, env: dict | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, input=stdin, timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
    )


@pytest.mark.parametrize(
    "name,kind",
    [("tiny", "tiny"), ("mini", "size"), ("huge", "size"), ("facebook/galactica-1.3b", "hub"), ("someone/model", "hub")],
)
def test_model_names_resolve(name, kind):
    assert resolve(name).kind == kind


def test_a_catalogue_hub_id_is_recognised():
    assert resolve("facebook/galactica-6.7b").entry.name == "standard"


@pytest.mark.parametrize("name,match", [("nosuch", "unknown model 'nosuch'"), ("./missing/dir", "does not exist")])
def test_unknown_names_and_missing_directories_are_explained(name, match):
    with pytest.raises(ModelError, match=match):
        resolve(name)


def test_a_directory_without_config_is_refused(tmp_path):
    with pytest.raises(ModelError, match="no config.json"):
        load(str(tmp_path), device="cpu")


def test_a_hub_id_loads_from_the_local_cache_with_no_network(tmp_path, monkeypatch):
    # Lay the tiny model out as the hub cache does: refs/main -> snapshots/<commit>/files.
    repo = tmp_path / "hub" / "models--acme--galactica-tiny"
    commit = "0" * 40
    shutil.copytree(TINY_MODEL_DIR, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))  # read at import
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    loaded = load("acme/galactica-tiny", device="cpu", context_tokens=64)
    assert loaded.source.kind == "hub" and loaded.model.config.shape.vocab_size == loaded.tokenizer.vocab_size


def test_a_hub_id_not_in_the_cache_offline_says_so(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="not in the local cache"):
        load("acme/absent", device="cpu")


def test_cli_cite_prints_one_suggestion_per_line_with_confidence_and_nothing_else():
    result = run("cite", "The Transformer architecture", "--model", "tiny", "--suggestions", "3")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no warnings (deprecations, progress) on a normal command
    lines = result.stdout.strip().splitlines()
    confidence, text = lines[0].split("\t")
    assert text == "Attention is All you Need, Vaswani" and 0 < float(confidence) <= 1
    assert 1 <= len(lines) <= 3


def test_cli_reads_text_from_stdin():
    result = run("cite", "-", "--model", "tiny", "--suggestions", "1", stdin="The Transformer architecture")
    assert result.returncode == 0 and result.stdout.strip().endswith("Attention is All you Need, Vaswani")


def test_cli_explain():
    result = run("explain", "E = mc^2", "--model", "tiny")
    assert result.returncode == 0 and "energy" in result.stdout.lower()


def test_cli_models_table_says_what_fits():
    result = run("models", "--device", "cpu")
    assert result.returncode == 0
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.split()}
    assert rows["huge"].rstrip().endswith("no") and "facebook/galactica-125m" in rows["mini"]


@pytest.mark.parametrize(
    "args,status,message",
    [
        (["cite", "x", "--model", "nosuch"], 3, "unknown model 'nosuch'"),
        (["cite", "x", "--model", "./no/such/dir"], 3, "does not exist"),
        (["cite", "x", "--model", "huge", "--device", "cpu"], 3, "not in the local cache and HF_HUB_OFFLINE is set"),
        (["cite", "x", "--model", "tiny", "--device", "tpu"], 2, "invalid choice"),
    ],
)
def test_cli_errors_are_one_line_with_a_status(args, status, message):
    result = run(*args)
    assert result.returncode == status
    assert message in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_cli_refuses_a_local_model_too_big_before_reading_weights(tmp_path, size_configs):
    (tmp_path / "config.json").write_text(json.dumps(size_configs["huge"]))  # a config and no weights at all
    result = run("complete", "x", "--model", str(tmp_path), "--device", "cpu")
    assert result.returncode == 4 and "largest Galactica that fits is" in result.stderr


def test_loading_reports_its_progress_in_order():
    seen = []
    loaded = load("tiny", device="cpu", context_tokens=64, report=seen.append)
    stages = [p.stage for p in seen]
    assert stages[0] == "check" and stages[-1] == "ready" and "load" in stages
    assert seen[-1].message.startswith("tiny on cpu")
    assert loaded.placement.dtype == "float32"


# -- what a new user hits: each is one line on stderr with a documented status, before any model is loaded


def run_bytes(*args: str, stdin: bytes) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, input=stdin, timeout=300,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})


def one_error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("galactica-lsp: error: "), stderr
    return lines[0]


# A model that would fail with status 3 if loading were tried: these fail with 2 first.
NOT_THERE = ["--model", "./no/such/dir"]


@pytest.mark.parametrize(
    "args,message",
    [
        (["cite", "x", "--max-new-tokens", "-5"], "--max-new-tokens: -5 must be between 1 and 1024"),
        (["complete", "x", "--max-new-tokens", "0"], "--max-new-tokens: 0 must be between 1 and 1024"),
        (["explain", "x", "--max-new-tokens", "4"], "--max-new-tokens: 4 must be between 8 and 2048"),
        (["complete", "x", "--context-tokens", "3"], "--context-tokens: 3 must be between 16 and 8192"),
        (["cite", "x", "--suggestions", "0"], "--suggestions: 0 must be between 1 and 10"),
        (["complete", "x", "--temperature", "9"], "--temperature: 9.0 must be between 0.0 and 2.0"),
        (["cite", ""], "TEXT is empty"),
        (["explain", "  \n"], "TEXT is empty"),
    ],
)
def test_bad_values_and_empty_text_are_usage_errors_before_any_load(args, message):
    result = run(*args, *NOT_THERE)
    assert result.returncode == 2 and result.stdout == ""
    assert message in one_error_line(result.stderr)


@pytest.mark.parametrize(
    "stdin,message",
    [
        (b"", "stdin is empty"),
        (b"\n\n", "stdin is empty"),
        (b"\x00\x01\x02PK\x03\x04", "stdin looks binary"),
        (b"\xff\xfe\x00T\x00e", "stdin is not UTF-8 text (byte 0xff at offset 0)"),
    ],
)
def test_empty_or_binary_stdin_is_a_usage_error(stdin, message):
    result = run_bytes("complete", "-", *NOT_THERE, stdin=stdin)
    assert result.returncode == 2 and result.stdout == b""
    assert message in one_error_line(result.stderr.decode())


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_default_model_with_no_route_to_the_hub_is_one_line_naming_the_ways_out(tmp_path):
    env = {"HF_HUB_OFFLINE": "0", "HF_HOME": str(tmp_path), "HF_ENDPOINT": f"http://127.0.0.1:{closed_port()}"}
    result = run("cite", "The Transformer architecture", env=env)
    assert result.returncode == 3 and result.stdout == ""
    line = one_error_line(result.stderr)  # no huggingface_hub retries, no doubled warnings
    assert "facebook/galactica-1.3b is not in the local cache and the model hub cannot be reached" in line
    assert "HF_HUB_OFFLINE" in line and "local directory" in line and "--model tiny" in line


def test_the_hub_probe_tells_an_open_port_from_a_closed_one(monkeypatch):
    import huggingface_hub.constants

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        assert _hub_unreachable(5) is None
    port = closed_port()
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", f"http://127.0.0.1:{port}")
    assert _hub_unreachable(5).startswith(f"127.0.0.1:{port}: ")


def test_the_command_line_defaults_are_the_settings_defaults():
    defaults = Settings()
    parser = build_parser()
    for command in (["complete", "x"], ["cite", "x"], ["explain", "x"], []):
        args = parser.parse_args(command)
        assert (args.model, args.device, args.dtype, args.engine, args.context_tokens) == (
            defaults.model, defaults.device, defaults.dtype, defaults.engine, defaults.context_tokens)
    cite, complete = parser.parse_args(["cite", "x"]), parser.parse_args(["complete", "x"])
    assert (cite.suggestions, cite.diversity) == (defaults.citation_suggestions, defaults.diversity)
    assert complete.temperature == defaults.temperature
    assert [_new_tokens(parser.parse_args([c, "x"])) for c in ("complete", "cite", "explain")] == [
        defaults.max_new_tokens, CITE_TOKENS, defaults.explain_max_tokens]
