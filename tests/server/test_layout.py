"""The server package's shape: no import cycles, one language table, each shared method registered once."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from galactica_lsp.analysis.language import dialect, normalise_language

SERVER = Path(__file__).resolve().parents[2] / "galactica_lsp" / "server"


def local_imports() -> dict[str, set[str]]:
    """Each module of ``server/`` and the sibling modules it imports (at any depth of its code)."""
    graph = {}
    for path in SERVER.glob("*.py"):
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                imported |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
        graph[path.stem] = imported - {"__init__"}
    return graph


def test_server_modules_import_without_cycles():
    graph = local_imports()
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        for imported in graph.get(module, ()):
            assert imported not in path, f"import cycle: {' → '.join((*path, imported))}"
            if imported not in done:
                visit(imported, (*path, imported))
        done.add(module)

    for module in graph:
        visit(module, (module,))


def test_features_do_not_import_one_another_for_shared_methods():
    graph = local_imports()
    assert "setup" not in set().union(*(deps for name, deps in graph.items() if name != "__init__"))
    for feature in ("explain", "bibliography", "paragraph", "lifecycle"):
        assert not graph[feature] & {"explain", "citations", "completion", "paragraph", "lifecycle"}, feature


def test_feature_state_is_never_attached_to_the_server_at_run_time():
    for path in SERVER.glob("*.py"):
        text = path.read_text()
        assert "getattr(ls" not in text and "server.libraries" not in text and "server.explanations" not in text, path


def test_each_lsp_method_is_registered_once_and_every_command_is_there():
    from galactica_lsp.server import create_server

    server = create_server()
    assert sorted(server.protocol.fm.commands) == [
        "galactica.addBibEntry", "galactica.continueParagraph", "galactica.explainFormula", "galactica.status",
        "galactica.suggestCitations",
    ]
    # pygls refuses a second registration of a method, so building the server at all shows "once".
    assert {"textDocument/codeAction", "textDocument/didOpen", "textDocument/didClose"} <= set(server.protocol.fm.features)


@pytest.mark.parametrize(
    "language_id,uri,expected",
    [
        ("latex", "file:///a.txt", "latex"), ("LaTeX", "file:///a", "latex"), ("context", "file:///a", "latex"),
        ("quarto", "file:///a", "markdown"), ("pandoc", "file:///a", "markdown"), ("rmarkdown", "file:///a", "markdown"),
        ("jupyter", "file:///a", "python"), ("plaintext", "file:///paper.tex", "latex"),
        ("", "file:///notes.QMD", "markdown"), (None, "file:///x.pyi", "python"),
        ("plaintext", "file:///my.folder/notes", "text"), ("cobol", "file:///a.cob", "text"),
    ],
)
def test_one_language_table_for_ids_and_extensions(language_id, uri, expected):
    assert normalise_language(language_id, uri) == expected


def test_the_analysers_and_the_server_read_the_same_ids():
    for language_id in ("tex", "plaintex", "myst", "rmd", "python", "markdown"):
        assert normalise_language(language_id, "file:///x") == dialect(language_id)
