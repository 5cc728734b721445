"""Galactica in real VS Code: the editors/vscode extension in code-server, driven through Chromium.

``editors/vscode/scripts/setup-test-env.sh`` installs, once, outside the repository, Chromium,
Node 24, code-server and playwright-core, and builds the .vsix. The test installs that .vsix into
a fresh code-server, opens a workspace of three files and lets ``vscode/drive.mjs`` act as a user:
type in a .tex file until ghost text shows and accept it with Tab, run "Galactica: Explain
formula", pick a reference from "Galactica: Suggest citations here", click the status bar item.
Files are read back from disk after Ctrl+S. What the model should write comes from the
``galactica-lsp`` command line on the same tiny model, never hard-coded. Screenshots, what the
editor showed, the LSP traffic (recorded by ``vscode/lsp_tee.py``) and the logs land in
``test-output/vscode/``.

    pytest -m editor tests/editors/test_vscode.py
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import fields
from pathlib import Path

import pytest

from galactica_lsp.analysis.generated import fit_to_insert
from galactica_lsp.analysis.insertion import insertion_for
from galactica_lsp.bibliography.keys import cite
from galactica_lsp.bibliography.stub import suggested_key
from galactica_lsp.engine.galactica import Reference
from galactica_lsp.settings import Settings, camel, to_wire
from galactica_lsp.tiny import TINY_MODEL_DIR
from galactica_lsp.tiny.corpus import SNIPPET_BY_NAME, render

REPO = Path(__file__).resolve().parents[2]
EXTENSION = REPO / "editors" / "vscode"
HERE = Path(__file__).resolve().parent / "vscode"
OUTPUT = REPO / "test-output" / "vscode"
SETUP = EXTENSION / "scripts" / "setup-test-env.sh"
SETUP_CANNOT_RUN = 3  # the script's exit status when it cannot install (no apt-get, not root)

pytestmark = pytest.mark.editor

# The files the user works on, and where.
GHOST_FILE, GHOST_CUT, GHOST_TYPED = "contact-maps.tex", "Knowing which", " residues"
EXPLAIN_FILE = "relativity.tex"
EXPLAIN_TEXT = r"""\documentclass{article}
\begin{document}
Einstein's relation $E = mc^2$ links mass and energy.
\end{document}
"""
EXPLAIN_LATEX = "E = mc^2"
CITE_FILE = "notes.md"
CITE_PROSE = "Language models"  # the tiny model knows several papers for it, one of them below the threshold
CITE_TEXT = f"# Notes\n\n{CITE_PROSE}\n\nMore notes.\n"


# -- what the model writes, from the command line -------------------------------------------------


def galactica(*args: str, stdin: str | None = None) -> subprocess.Popen:
    """``galactica-lsp <args> --model tiny --device cpu``, started (collect it with ``finish``)."""
    command = [sys.executable, "-m", "galactica_lsp", *args, "--model", "tiny", "--device", "cpu"]
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=server_env())
    proc.stdin.write(stdin or "")
    proc.stdin.close()
    return proc


def finish(proc: subprocess.Popen) -> str:
    out, err = proc.stdout.read(), proc.stderr.read()
    assert proc.wait(timeout=120) == 0, f"{proc.args}: {err[-2000:]}"
    return out


def server_env() -> dict[str, str]:
    # One thread: on a busy 2-core machine torch's default pool spins against the editor.
    return {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TRANSFORMERS_VERBOSITY": "error"}


# -- the editor ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tools() -> dict[str, str]:
    """Paths of node, code-server, playwright-core, chromium and the .vsix (installed when absent)."""
    if not (TINY_MODEL_DIR / "model.safetensors").exists():
        pytest.skip(f"the tiny model is not built ({TINY_MODEL_DIR}): python -m galactica_lsp.tiny.build")
    started = time.monotonic()
    proc = subprocess.run(["bash", str(SETUP)], capture_output=True, text=True, timeout=1800, check=False)
    if proc.returncode == SETUP_CANNOT_RUN:
        pytest.skip(f"{SETUP.name} cannot install here: {proc.stderr.strip().splitlines()[-1]}")
    assert proc.returncode == 0, f"{SETUP} failed:\n{proc.stderr[-4000:]}"
    found = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    found["setupSeconds"] = str(round(time.monotonic() - started, 1))
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_group(proc: subprocess.Popen) -> None:
    """End the process group started for ``proc`` (code-server, its extension host, the server)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass


def split_at(text: str, marker: str) -> tuple[str, str]:
    """``text`` up to the end of ``marker``, and ``text`` from the end of that line on."""
    end = text.index(marker) + len(marker)
    return text[:end], text[text.index("\n", end):]


def write_workspace(root: Path) -> dict[str, Path]:
    """The three files: a corpus document cut short after GHOST_CUT, a formula, a line of prose."""
    root.mkdir(parents=True)
    ghost = "".join(split_at(render(SNIPPET_BY_NAME[GHOST_FILE].text), GHOST_CUT))
    texts = {GHOST_FILE: ghost, EXPLAIN_FILE: EXPLAIN_TEXT, CITE_FILE: CITE_TEXT}
    paths = {}
    for name, text in texts.items():
        paths[name] = root / name
        paths[name].write_text(text)
    return paths


def position_after(text: str, marker: str) -> tuple[int, int]:
    """1-based line and column just after ``marker`` (as Ctrl+G takes them)."""
    end = text.index(marker) + len(marker)
    line_start = text.rfind("\n", 0, end) + 1
    return text.count("\n", 0, end) + 1, end - line_start + 1


def shown_as_ghost_text(before: str) -> str:
    """What the server shows as ghost text after ``before`` in the LaTeX file: the tiny model's greedy line
    (32 tokens at most, the document's start as a new document), a reference in it cited under a key made
    from it, and, when cut by length, ending at a word boundary (``analysis.generated``)."""
    from galactica_lsp.engine.service import Engine
    from galactica_lsp.engine.types import DecodeSettings

    def citer(text: str) -> str:
        reference = Reference(text)
        return cite(suggested_key(reference.title, reference.author), "latex")

    engine = Engine()
    try:
        engine.load("tiny", device="cpu")
        settings = DecodeSettings(max_new_tokens=32, stop_strings=("\n",))
        gen = engine.call(lambda g, c: g.complete(before, settings, c, new_document=True), "expected")[0]
    finally:
        engine.shutdown()
    return fit_to_insert(gen.text, citer, cut=gen.finish_reason in ("length", "time")).split("\n")[0].rstrip()


def suggested_references(text: str) -> list[tuple[float, str]]:
    """(probability, "Title, Author") of what the server's citation menu asks the tiny model after ``text``:
    ``citationSuggestions`` diverse beams, 48 tokens, one search (``server.citations.suggest``)."""
    from galactica_lsp.engine.service import Engine

    s = Settings()
    engine = Engine()
    try:
        engine.load("tiny", device="cpu", sequences=s.citation_suggestions)
        found = engine.call(lambda g, c: g.cite(text, s.citation_suggestions, s.diversity, 48, c), "expected")
    finally:
        engine.shutdown()
    return [(f.confidence.probability, f.text) for f in found]


def test_ghost_text_explain_and_cite_in_code_server(tools, tmp_path):
    if OUTPUT.exists():
        shutil.rmtree(OUTPUT)
    OUTPUT.mkdir(parents=True)
    timings = {"setup": float(tools.pop("setupSeconds"))}
    files = write_workspace(tmp_path / "workspace")
    ghost_text = files[GHOST_FILE].read_text()
    before, after = split_at(ghost_text, GHOST_CUT)

    # What the model writes, computed while the editor starts.
    expected = {
        "explain": galactica("explain", EXPLAIN_LATEX, "--max-new-tokens", str(Settings().explain_max_tokens)),
    }

    # A code-server of its own: user settings, extensions, config and state all under tmp_path.
    data, extensions, traffic = tmp_path / "data", tmp_path / "extensions", OUTPUT / "traffic.jsonl"
    (data / "User").mkdir(parents=True)
    (data / "User" / "settings.json").write_text(json.dumps({
        "security.workspace.trust.enabled": False,
        "workbench.startupEditor": "none",
        "workbench.tips.enabled": False,
        "extensions.ignoreRecommendations": True,
        "telemetry.telemetryLevel": "off",
        "update.mode": "none",
        "editor.inlineSuggest.enabled": True,
        "chat.disableAIFeatures": True,
        "workbench.secondarySideBar.defaultVisibility": "hidden",
        "galactica.model": "tiny",
        "galactica.device": "cpu",
        # The server, through a recorder of its JSON-RPC traffic.
        "galactica.server.command": sys.executable,
        "galactica.server.args": [str(HERE / "lsp_tee.py"), str(traffic), "--", sys.executable, "-m", "galactica_lsp"],
    }, indent=2))
    env = {**server_env(), "PATH": f"{Path(tools['NODE']).parent}{os.pathsep}{os.environ['PATH']}",
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_DATA_HOME": str(tmp_path / "share")}
    code_server = [tools["CODE_SERVER"], "--user-data-dir", str(data), "--extensions-dir", str(extensions)]
    started = time.monotonic()
    subprocess.run([*code_server, "--install-extension", tools["VSIX"]], env=env, check=True, capture_output=True,
                   timeout=180)
    timings["installExtension"] = round(time.monotonic() - started, 1)
    port = free_port()
    log = open(OUTPUT / "code-server.log", "w")
    server = subprocess.Popen(
        [*code_server, "--bind-addr", f"127.0.0.1:{port}", "--auth", "none", "--disable-telemetry",
         "--disable-update-check", str(files[GHOST_FILE].parent)],
        env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        started = time.monotonic()
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).read()
                break
            except OSError:
                assert server.poll() is None, f"code-server exited: {(OUTPUT / 'code-server.log').read_text()[-3000:]}"
                assert time.monotonic() - started < 60, "code-server did not answer within 60 s"
                time.sleep(0.3)
        timings["codeServerUp"] = round(time.monotonic() - started, 1)

        ghost_line, ghost_col = position_after(ghost_text, GHOST_CUT)
        explain_line, explain_col = position_after(EXPLAIN_TEXT, "$E = mc")
        cite_line, cite_col = position_after(CITE_TEXT, CITE_PROSE)
        given = {
            "playwright": tools["PLAYWRIGHT"], "chromium": tools["CHROMIUM"], "outDir": str(OUTPUT),
            "url": f"http://127.0.0.1:{port}/?folder={files[GHOST_FILE].parent}",
            "ghost": {"file": str(files[GHOST_FILE]), "line": ghost_line, "column": ghost_col, "typed": GHOST_TYPED},
            "explain": {"file": str(files[EXPLAIN_FILE]), "line": explain_line, "column": explain_col,
                        "marker": "Galactica's explanation:"},
            "cite": {"file": str(files[CITE_FILE]), "line": cite_line, "column": cite_col},
        }
        (tmp_path / "given.json").write_text(json.dumps(given))
        started = time.monotonic()
        drive = subprocess.run([tools["NODE"], str(HERE / "drive.mjs"), str(tmp_path / "given.json")], env=env,
                               capture_output=True, text=True, timeout=420, check=False)
        timings["editorSession"] = round(time.monotonic() - started, 1)
    finally:
        stop_group(server)
        log.close()
        for found in data.glob("logs/**/*alactica*.log"):
            shutil.copy(found, OUTPUT / f"output-channel-{found.name}")
    seen = json.loads((OUTPUT / "seen.json").read_text()) if (OUTPUT / "seen.json").exists() else {}
    timings["steps"] = {s["name"]: s["seconds"] for s in seen.get("steps", [])}
    (OUTPUT / "timings.json").write_text(json.dumps(timings, indent=2))
    messages = [json.loads(line) for line in traffic.read_text().splitlines()] if traffic.exists() else []
    assert drive.returncode == 0 and not seen.get("error"), (
        f"the editor session failed: {seen.get('error') or drive.stderr[-3000:]}\n"
        f"notifications: {seen.get('notifications')}\nstatus bar: {seen.get('statuses')}\n"
        f"last LSP messages: {json.dumps(messages[-6:])[-3000:]}\nsee {OUTPUT}"
    )
    expected = {name: finish(proc) for name, proc in expected.items()}

    # Every screenshot shows a drawn workbench, not a blank page.
    assert len(seen["screenshots"]) == 8
    for name, shot in seen["screenshots"].items():
        assert shot["colours"] > 50 and shot["changed"] > 0.15, f"{name}.png looks blank: {shot}"

    # The status bar followed the server: ready with the tiny model on the CPU.
    assert "Galactica: ready (tiny, cpu)" in seen["statuses"], seen["statuses"]
    assert "LaTeX" in seen["language"]

    # Ghost text: the model's continuation up to the end of the line; Tab put it in the file.
    want = shown_as_ghost_text(before + GHOST_TYPED)
    assert want.strip(), f"the model has no continuation for {GHOST_CUT!r}"
    assert seen["ghost"] == want
    assert files[GHOST_FILE].read_text() == before + GHOST_TYPED + want + after

    # The light bulb shows where Galactica can explain a formula, not on every line of prose.
    assert seen["lightbulbOnFormula"] and not seen["lightbulbOnProse"], seen.get("gutter")

    # Explain formula: the explanation as LaTeX comments after the formula's line.
    explanation = expected["explain"].rstrip("\n")
    edit = insertion_for(EXPLAIN_TEXT, EXPLAIN_TEXT.index("mc^2$"), "latex", "explain", explanation)
    assert explanation.strip()
    assert files[EXPLAIN_FILE].read_text() == EXPLAIN_TEXT[: edit.offset] + edit.text + EXPLAIN_TEXT[edit.offset:]

    # Suggest citations: the model's references, most likely first, unsure ones marked; Enter inserts the first.
    references = suggested_references(CITE_TEXT[: CITE_TEXT.index(CITE_PROSE) + len(CITE_PROSE)])
    assert len(references) > 1
    shown = seen["citeItems"]
    assert [f"{item['label']}, {item['description']}" for item in shown] == [text for _, text in references]
    for item, (probability, _) in zip(shown, references, strict=True):
        assert f"{round(probability * 100)}% sure" in item["detail"], item
        if abs(float(probability) - Settings().citation_threshold) > 0.015:
            assert ("likely made up" in item["detail"]) == (float(probability) < Settings().citation_threshold), item
    assert any("likely made up" in item["detail"] for item in shown)
    first = Reference(references[0][1])  # the server cites it in the document's syntax, under a key made from it
    key = suggested_key(first.title, first.author)
    assert files[CITE_FILE].read_text() == CITE_TEXT.replace(CITE_PROSE, f"{CITE_PROSE} [@{key}]")

    # Clicking the status bar item showed the server's status.
    assert '"state": "ready"' in seen["statusDocument"] and '"model": "tiny"' in seen["statusDocument"]

    # On the wire: inline completions answered the ghost text; the settings reached the server without
    # the client-only galactica.server.*, and it complained about none of them.
    requests = {m["message"].get("id"): m["message"] for m in messages if m["from"] == "client" and "method" in m["message"]}
    inline = [m["message"] for m in messages if m["from"] == "server" and "result" in m["message"]
              and requests.get(m["message"]["id"], {}).get("method") == "textDocument/inlineCompletion"]
    assert any(item["insertText"] == want for answer in inline for item in (answer["result"] or {}).get("items", []))
    init = next(m for m in requests.values() if m["method"] == "initialize")
    assert init["params"]["initializationOptions"]["galactica"]["model"] == "tiny"
    assert "server" not in init["params"]["initializationOptions"]["galactica"]
    config_answers = [m["message"]["result"] for m in messages if m["from"] == "client" and "result" in m["message"]
                      and isinstance(m["message"]["result"], list)]
    assert config_answers and all("server" not in answer[0] for answer in config_answers)
    shown_messages = [m["message"]["params"]["message"] for m in messages
                      if m["message"].get("method") == "window/showMessage"]
    assert not [text for text in shown_messages if "galactica." in text], shown_messages


# -- the package, without an editor -----------------------------------------------------------------


def test_the_extension_lists_every_server_setting_with_its_type_default_and_description():
    package = json.loads((EXTENSION / "package.json").read_text())
    properties = package["contributes"]["configuration"]["properties"]
    defaults = to_wire(Settings())
    json_types = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array", dict: "object"}
    server_side = {k: v for k, v in properties.items() if not k.startswith("galactica.server.")}
    assert set(server_side) == {f"galactica.{name}" for name in defaults}
    for f in fields(Settings):
        name = camel(f.name)
        prop = properties[f"galactica.{name}"]
        assert prop["default"] == defaults[name] and type(prop["default"]) is type(defaults[name]), name
        assert prop["type"] == json_types[type(defaults[name])], name
        assert prop["description"] == f.metadata["doc"], name
    # The client-only settings say how to start the server.
    assert properties["galactica.server.command"]["default"] == "galactica-lsp"
    assert properties["galactica.server.args"]["default"] == []
    assert properties["galactica.server.pythonPath"]["default"] == ""


def test_the_extension_activates_for_latex_markdown_and_python():
    package = json.loads((EXTENSION / "package.json").read_text())
    assert set(package["activationEvents"]) == {f"onLanguage:{lang}" for lang in ("latex", "tex", "markdown", "python")}
    titles = {c["title"] for c in package["contributes"]["commands"]}
    assert {"Suggest citations here", "Explain formula", "Explain step by step", "Translate formula to Python (SymPy)",
            "Restart server", "Show log", "Show status"} <= titles
    source = (EXTENSION / "src" / "client.ts").read_text()
    assert "scheme: 'file'" in source and "scheme: 'untitled'" in source
