"""dev.py, the README's two commands: when it sets up again, and when the editor tools are needed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("dev", REPO / "dev.py")
dev = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(dev)


# -- which pytest runs need the editor tools ----------------------------------------------------


@pytest.mark.parametrize("args", [
    [],
    ["-q", "-x"],
    ["tests"],
    ["tests/editors"],
    ["tests/editors/test_vscode.py::test_the_extension_activates_for_latex_markdown_and_python"],
    ["-m", "editor"],
    ["-m", "(editor or slow)"],
    ["-m", "editor", "tests"],
    ["-k", "cite"],
    ["-m", "marker(arg=1)"],  # not read: assume the editor tests may run
])
def test_runs_that_can_reach_an_editor_test_need_the_tools(args):
    assert dev.selects_editor_tests(args, REPO) is True


@pytest.mark.parametrize("args", [
    ["-m", "not editor"],
    ["-mnot editor"],
    ["-q", "-m", "slow and not editor", "tests"],
    ["tests/analysis", "-q"],
    ["tests/analysis/", "tests/lsp"],
    ["-k", "editor", "tests/bibliography"],  # -k's value is not a path
    ["--ignore=tests/editors"],
    ["--ignore", "tests/editors", "tests"],
    ["-m", "slow"],
])
def test_runs_that_leave_the_editor_tests_out_skip_the_tools(args):
    assert dev.selects_editor_tests(args, REPO) is False


def test_paths_are_read_from_the_directory_pytest_runs_in():
    assert dev.selects_editor_tests(["editors"], REPO / "tests") is True
    assert dev.selects_editor_tests(["analysis"], REPO / "tests") is False


# -- small readers ------------------------------------------------------------------------------


def test_required_python_is_read_from_requires_python():
    assert dev.required_python('[project]\nrequires-python = ">=3.11"\n') == (3, 11)
    assert dev.required_python("requires-python = '>= 3.10.2'\n") == (3, 10, 2)
    assert dev.required_python("[project]\nname = 'x'\n") == ()


def test_pip_error_keeps_pips_error_lines_once():
    output = (
        "Collecting x\n"
        "      ERROR: Could not find a version that satisfies the requirement hatchling>=1.21\n"
        "      ERROR: No matching distribution found for hatchling>=1.21\n"
        "error: subprocess-exited-with-error\n"
        "ERROR: No matching distribution found for hatchling>=1.21\n"
    )
    assert dev.pip_error(output) == ("ERROR: Could not find a version that satisfies the requirement hatchling>=1.21 "
                                     "ERROR: No matching distribution found for hatchling>=1.21")
    assert dev.pip_error("Collecting x\nerror: subprocess-exited-with-error\nnote: see above\n") == \
        "error: subprocess-exited-with-error"
    assert dev.pip_error("all fine\n") == ""


def test_the_stamp_changes_with_pyproject_and_with_the_venvs_place(tmp_path):
    base = dev.wanted_stamp(b"[project]\n", tmp_path / ".venv")
    assert dev.wanted_stamp(b"[project]\n", tmp_path / ".venv") == base
    assert dev.wanted_stamp(b"[project]\n# pulled\n", tmp_path / ".venv") != base
    assert dev.wanted_stamp(b"[project]\n", tmp_path / "moved" / ".venv") != base


# -- set up, skip, repair -----------------------------------------------------------------------


class Checkout:
    """dev.py pointed at a checkout in tmp_path; its venv's python is this interpreter (a symlink)."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = tmp_path / "checkout"
        self.root.mkdir()
        self.pyproject = self.root / "pyproject.toml"
        self.pyproject.write_text('[project]\nname = "demo"\nrequires-python = ">=3.8"\n')
        venv = self.root / ".venv"
        self.python, self.server = venv / "bin" / "python", venv / "bin" / "galactica-lsp"
        for name, value in {
            "ROOT": self.root, "VENV": venv, "PYPROJECT": self.pyproject, "STAMP": venv / "galactica-dev.json",
            "LOG": venv / "setup.log", "BIN": venv / "bin", "PYTHON": self.python, "SERVER": self.server,
        }.items():
            monkeypatch.setattr(dev, name, value)
        self.events: list[str] = []
        self.fail_on: str | None = None
        monkeypatch.setattr(dev, "create_venv", self.create_venv)
        monkeypatch.setattr(dev, "pip_install", self.pip_install)

    def create_venv(self) -> None:
        self.events.append("create")
        if self.python.parent.parent.exists():
            import shutil

            shutil.rmtree(self.python.parent.parent)
        self.python.parent.mkdir(parents=True)
        self.python.symlink_to(sys.executable)

    def pip_install(self, args: list[str], log) -> None:
        self.events.append(" ".join(args))
        if self.fail_on and self.fail_on in args:
            raise dev.SetupError("pip install failed")
        if "-e" in args:
            self.server.write_text("#!/bin/sh\n")

    def setup(self) -> list[str]:
        self.events = []
        dev.ensure_venv()
        return self.events


INSTALL = [dev.TORCH, f"-e {dev.ROOT}[test]"]  # the order: torch alone first


def test_a_first_run_makes_the_venv_then_installs_torch_first_then_the_project(tmp_path, monkeypatch):
    checkout = Checkout(tmp_path, monkeypatch)
    assert checkout.setup() == ["create", *INSTALL]
    assert dev.read_stamp() == dev.wanted_stamp(checkout.pyproject.read_bytes(), dev.VENV)


def test_a_ready_venv_runs_no_pip(tmp_path, monkeypatch):
    checkout = Checkout(tmp_path, monkeypatch)
    checkout.setup()
    assert checkout.setup() == []


def test_a_changed_pyproject_is_installed_again_in_the_same_venv(tmp_path, monkeypatch):
    checkout = Checkout(tmp_path, monkeypatch)
    checkout.setup()
    checkout.pyproject.write_text(checkout.pyproject.read_text() + 'dependencies = ["rapidfuzz"]\n')
    assert checkout.setup() == INSTALL
    assert checkout.setup() == []


def test_an_install_that_did_not_finish_leaves_no_stamp_and_is_done_again(tmp_path, monkeypatch):
    checkout = Checkout(tmp_path, monkeypatch)
    checkout.fail_on = "-e"
    with pytest.raises(dev.SetupError):
        checkout.setup()
    assert dev.read_stamp() is None
    checkout.fail_on = None
    assert checkout.setup() == INSTALL  # the venv is kept: its python and pip work


def test_a_venv_whose_python_is_gone_is_made_again(tmp_path, monkeypatch):
    checkout = Checkout(tmp_path, monkeypatch)
    checkout.setup()
    checkout.python.unlink()
    assert checkout.setup() == ["create", *INSTALL]


def test_a_venv_stamped_for_another_place_is_made_again(tmp_path, monkeypatch):
    checkout = Checkout(tmp_path, monkeypatch)
    checkout.setup()
    stamp = dev.read_stamp()
    dev.write_stamp({**stamp, "venv": str(tmp_path / "elsewhere" / ".venv")})
    assert checkout.setup() == ["create", *INSTALL]


def test_a_python_older_than_requires_python_is_refused_with_the_version_it_needs(tmp_path, monkeypatch):
    checkout = Checkout(tmp_path, monkeypatch)
    checkout.pyproject.write_text('[project]\nrequires-python = ">=99.0"\n')
    with pytest.raises(dev.SetupError, match=r"needs Python >= 99\.0"):
        checkout.setup()
    assert checkout.events == []
