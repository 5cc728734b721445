"""Import boundaries: the server, the settings, the plain engine types and ``--help`` import neither
torch nor transformers; the engine never imports the ``tiny`` package (which imports the engine).

Each check runs in a fresh interpreter, since this test process has torch loaded already.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import galactica_lsp.engine

import pytest

HEAVY = ("torch", "transformers")


def _loaded_after(code: str, watched: tuple[str, ...] = HEAVY) -> list[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {watched!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@pytest.mark.parametrize(
    "module",
    ["galactica_lsp.server", "galactica_lsp.settings", "galactica_lsp.engine.types", "galactica_lsp.engine.backend",
     "galactica_lsp.engine.service", "galactica_lsp.engine.loading", "galactica_lsp.cli"],
)
def test_importing_loads_no_torch(module):
    assert _loaded_after(f"import {module}") == []


def test_help_loads_no_torch():
    code = (
        "import contextlib, io\n"
        "from galactica_lsp.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
        "    main(['--help'])\n"
        "assert 'usage: galactica-lsp' in out.getvalue()"
    )
    assert _loaded_after(code) == []


def test_an_engine_is_made_without_torch():
    """The server makes its Engine at start; torch comes with the first load, not before."""
    code = "from galactica_lsp.engine.service import Engine\nEngine().shutdown()"
    assert _loaded_after(code) == []


def test_the_engine_does_not_import_the_tiny_package():
    modules = [m.name for m in pkgutil.iter_modules(galactica_lsp.engine.__path__, "galactica_lsp.engine.")]
    assert "galactica_lsp.engine.loading" in modules
    code = "\n".join(f"import {m}" for m in modules)
    assert _loaded_after(code, ("galactica_lsp.tiny",)) == []
