"""Which files the server reads as bibliographies: regular, not too large, text; the reason when not."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from galactica_lsp.server.bibliography import MAX_BIB_BYTES, bib_file_problem, read_bib_safely, setting_problems


@pytest.fixture
def files(tmp_path) -> Path:
    (tmp_path / "good.bib").write_text("@misc{a, title = {A}}\n")
    (tmp_path / "folder.bib").mkdir()
    os.mkfifo(tmp_path / "pipe.bib")
    with open(tmp_path / "huge.bib", "wb") as f:
        f.truncate(MAX_BIB_BYTES + 1)  # sparse: no disk used
    (tmp_path / "zeros.bib").write_bytes(b"\x00" * 4096)
    (tmp_path / "image.bib").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(32)) * 40)
    return tmp_path


def test_a_regular_text_file_is_read(files):
    assert bib_file_problem(files / "good.bib") is None
    assert read_bib_safely(files / "good.bib") == ("@misc{a, title = {A}}\n", None)


@pytest.mark.parametrize(
    "name,reason",
    [
        ("missing.bib", "does not exist: skipped"),
        ("folder.bib", "is a directory: skipped"),
        ("pipe.bib", "is a FIFO, not a file: skipped"),
        ("huge.bib", "is 67.1 MB, over the 64 MiB limit: skipped"),
    ],
)
def test_files_that_are_not_read_and_why(files, name, reason):
    problem = bib_file_problem(files / name)
    assert problem == f"bibliography {files / name} {reason}"
    assert read_bib_safely(files / name) == (None, problem)


def test_a_device_is_never_opened():
    assert bib_file_problem(Path("/dev/zero")) == (
        "bibliography /dev/zero is a character device, not a file: skipped")


@pytest.mark.parametrize("name", ["zeros.bib", "image.bib"])
def test_binary_content_is_not_a_bibliography(files, name):
    assert read_bib_safely(files / name) == (
        None, f"bibliography {files / name} is binary (NUL bytes), not a bibliography: skipped")


def test_the_setting_is_checked_name_by_name(files):
    setting = ("good.bib", "missing.bib", str(files / "pipe.bib"), "/dev/zero", "zeros.bib")
    assert setting_problems(setting, [files]) == [
        f"galactica.bibliography: 'missing.bib' not found in {files}",
        f"galactica.bibliography: bibliography {files / 'pipe.bib'} is a FIFO, not a file: skipped",
        "galactica.bibliography: bibliography /dev/zero is a character device, not a file: skipped",
        f"galactica.bibliography: bibliography {files / 'zeros.bib'} is binary (NUL bytes), not a bibliography: skipped",
    ]
