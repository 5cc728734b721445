"""Finding and loading models without a network, and the command line's exit codes and messages."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from galactica_lsp.engine.loading import ModelError, load, resolve
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
    assert loaded.source.kind == "hub" and loaded.model.config.vocab_size == loaded.tokenizer.vocab_size


def test_a_hub_id_not_in_the_cache_offline_says_so(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="not in the local cache"):
        load("acme/absent", device="cpu")


def test_cli_cite_prints_one_suggestion_per_line_with_confidence():
    result = run("cite", "The Transformer architecture", "--model", "tiny", "--suggestions", "3")
    assert result.returncode == 0, result.stderr
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
        (["cite", "x", "--model", "huge", "--device", "cpu"], 4, "huge does not fit on cpu"),
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
