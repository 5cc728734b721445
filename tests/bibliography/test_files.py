"""Reading bibliography files safely: only regular files, within the limit, text; and telling versions apart."""

from __future__ import annotations

import dataclasses
import os
import pickle
import sys
from pathlib import Path

import pytest

from galactica_lsp.bibliography import files
from galactica_lsp.bibliography.files import (
    MAX_BYTES,
    FileStamp,
    Unreadable,
    appending,
    file_stamp,
    read_text_file,
    read_text_stamped,
    unchanged,
)
from galactica_lsp.bibliography.parse import parse_bibliography, read_bib
from galactica_lsp.bibliography.stub import write_stub

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and /dev/zero are POSIX")


def reason(path, **kwargs) -> str:
    with pytest.raises(Unreadable) as caught:
        read_text_file(path, **kwargs)
    assert str(caught.value) == f"{path} {caught.value.reason}"
    return caught.value.reason


def test_the_limit_is_64_mib():
    assert MAX_BYTES == 64 * 1024 * 1024


def test_a_regular_file_is_read_as_utf8_or_latin1(tmp_path):
    (tmp_path / "a.bib").write_bytes(b"\xef\xbb\xbf@misc{a, title={Caf\xc3\xa9}}")
    (tmp_path / "b.bib").write_bytes(b"@misc{b, title={Caf\xe9}}")
    assert read_text_file(tmp_path / "a.bib") == "@misc{a, title={Café}}"
    assert read_text_file(tmp_path / "b.bib") == "@misc{b, title={Café}}"


def test_what_is_not_a_file_is_refused_with_a_reason(tmp_path):
    assert reason(tmp_path / "gone.bib") == "does not exist"
    assert reason(tmp_path) == "is a directory"
    (tmp_path / "link.bib").symlink_to(tmp_path / "nowhere.bib")
    assert reason(tmp_path / "link.bib") == "is a symbolic link to nothing"
    (tmp_path / "plain").write_text("")
    assert reason(tmp_path / "plain" / "x.bib") == "does not exist (a folder on its path is a file)"


@posix_only
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "refs.bib"
    os.mkfifo(fifo)
    assert reason(fifo) == "is a FIFO, not a file"  # opening it for reading would block: it is never opened


@posix_only
def test_dev_zero_is_refused_not_read_without_end():
    assert reason(Path("/dev/zero")) == "is a character device, not a file"


def test_a_huge_file_is_refused_by_its_size_before_a_byte_is_read(tmp_path):
    huge = tmp_path / "huge.bib"
    with open(huge, "wb") as f:
        f.truncate(3_100_000_000)  # sparse: no disk used
    assert reason(huge) == "is 3.1 GB, over the 64 MiB limit"
    (tmp_path / "small.bib").write_bytes(b"x" * 2000)
    assert reason(tmp_path / "small.bib", limit=1024) == "is 2.0 kB, over the 1024 bytes limit"


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_a_file_that_holds_more_than_its_size_says_is_read_only_up_to_the_limit():
    # /proc files are regular files of size 0 that read as text: the read, not the size, must stop.
    assert os.stat("/proc/self/status").st_size == 0
    assert reason(Path("/proc/self/status"), limit=16) == "grew past the 16 bytes limit while being read"


def test_binary_and_utf16_files_are_not_bibliographies(tmp_path):
    (tmp_path / "zeros.bib").write_bytes(b"\0" * 4096)
    (tmp_path / "image.bib").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    (tmp_path / "wide.bib").write_bytes("@misc{a}".encode("utf-16"))
    assert reason(tmp_path / "zeros.bib") == "is binary (NUL bytes), not a bibliography"
    assert reason(tmp_path / "image.bib") == "is binary (NUL bytes), not a bibliography"
    assert reason(tmp_path / "wide.bib") == "is UTF-16 text, which BibTeX and pandoc cannot read: save it as UTF-8"


@posix_only
def test_every_unusable_file_parses_to_nothing_and_one_problem_saying_why(tmp_path):
    os.mkfifo(tmp_path / "fifo.bib")
    (tmp_path / "zeros.bib").write_bytes(b"\0" * 100)
    (tmp_path / "zeros.json").write_bytes(b"\0" * 100)
    (tmp_path / "refs.ris").write_text("TY  - JOUR\n")
    cases = {
        tmp_path / "fifo.bib": "is a FIFO, not a file",
        Path("/dev/zero"): "is a character device, not a file",
        tmp_path: "is a directory",
        tmp_path / "zeros.bib": "is binary (NUL bytes), not a bibliography",
        tmp_path / "zeros.json": "is binary (NUL bytes), not a bibliography",
        tmp_path / "refs.ris": "is RIS: only BibTeX/biblatex (.bib), CSL-JSON (.json) and CSL-YAML (.yaml) are read",
    }
    for path, why in cases.items():
        bib = read_bib(path)
        assert bib.entries == () and [p.code for p in bib.problems] == ["unreadable"], path
        assert bib.unusable == bib.problems[0].message == f"{path} {why}"


def test_text_with_nul_bytes_held_by_the_editor_is_not_a_bibliography_either():
    bib = parse_bibliography("\0\0\0", Path("refs.bib"))
    assert bib.unusable == "refs.bib is binary (NUL bytes), not a bibliography"


@posix_only
def test_stubs_are_never_written_to_a_fifo_a_device_a_directory_or_a_binary_file(tmp_path):
    os.mkfifo(tmp_path / "fifo.bib")
    (tmp_path / "zeros.bib").write_bytes(b"\0" * 64)
    for path, why in [(tmp_path / "fifo.bib", "is a FIFO, not a file"),
                      (Path("/dev/zero"), "is a character device, not a file"),
                      (tmp_path / "folder.bib", "is a directory"),
                      (tmp_path / "zeros.bib", "is binary (NUL bytes), not a bibliography")]:
        if why == "is a directory":
            path.mkdir()
        with pytest.raises(Unreadable) as caught:
            write_stub(path, "T", "A", ())
        assert caught.value.reason == why
    assert (tmp_path / "zeros.bib").read_bytes() == b"\0" * 64


def test_stubs_are_never_written_to_csl_files(tmp_path):
    (tmp_path / "refs.json").write_text("[]")
    with pytest.raises(ValueError, match="is CSL-JSON: stub entries are written only to BibTeX"):
        write_stub(tmp_path / "refs.json", "T", "A", ())
    assert (tmp_path / "refs.json").read_text() == "[]"


def test_appending_creates_a_missing_file_and_refuses_one_over_the_limit(tmp_path):
    with appending(tmp_path / "new.bib") as (existing, append):
        assert existing == b""
        append(b"@misc{a}\n")
    assert (tmp_path / "new.bib").read_bytes() == b"@misc{a}\n"
    with pytest.raises(Unreadable, match="over the 4 bytes limit"), appending(tmp_path / "new.bib", limit=4):
        pass
    with pytest.raises(Unreadable, match="cannot be created: its folder does not exist"):
        with appending(tmp_path / "no" / "such.bib"):
            pass


def test_a_stamp_is_the_version_read_and_changes_with_the_content(tmp_path):
    path = tmp_path / "refs.bib"
    path.write_text("@misc{a, title={A}}\n")
    text, stamp = read_text_stamped(path)
    assert stamp == file_stamp(path) and unchanged(path, stamp)
    assert stamp.size == len(text) and len(stamp.digest) == 32
    path.write_text("@misc{b, title={B}}\n")  # the same size
    assert file_stamp(path) != stamp and not unchanged(path, stamp)
    assert read_bib(path).stamp == file_stamp(path)


def test_a_rewrite_in_place_within_one_clock_tick_at_the_same_size_is_seen(tmp_path):
    # A Better BibTeX auto-export rewriting the file on a file system whose clock did not move
    # (FAT: 2 s, HFS+: 1 s, a coarse kernel tick): the times and the size are those of the version read.
    path = tmp_path / "auto.bib"
    path.write_text("@misc{a, title={Version one}}\n")
    read = read_bib(path).stamp
    with open(path, "r+") as f:
        f.write("@misc{a, title={Version two}}\n")
    now = os.stat(path)
    same_times = dataclasses.replace(read, inode=now.st_ino, mtime_ns=now.st_mtime_ns, ctime_ns=now.st_ctime_ns)
    assert same_times.racy
    assert (same_times.mtime_ns, same_times.size) == (now.st_mtime_ns, now.st_size)  # what the server compares today
    assert not unchanged(path, same_times)  # the content decides
    assert file_stamp(path) != same_times


def test_a_file_not_changed_around_the_time_it_was_read_is_checked_without_reading_it(tmp_path, monkeypatch):
    path = tmp_path / "old.bib"
    path.write_text("@misc{a}\n")
    long_ago = os.stat(path).st_mtime_ns - 3600 * 10**9
    os.utime(path, ns=(long_ago, long_ago))
    stamp = file_stamp(path)
    settled = dataclasses.replace(stamp, read_at_ns=stamp.ctime_ns + files.RACY_NS + 1)
    assert not settled.racy
    monkeypatch.setattr(files, "read_text_stamped", lambda *a, **k: pytest.fail("the file was read"))
    assert unchanged(path, settled)
    os.utime(path, ns=(long_ago, long_ago + 1))
    assert not unchanged(path, settled)


def test_the_reason_survives_pickling(tmp_path):
    error = pickle.loads(pickle.dumps(Unreadable(tmp_path / "x.bib", "is a directory")))
    assert (error.path, error.reason) == (tmp_path / "x.bib", "is a directory")
    assert str(error) == f"{tmp_path / 'x.bib'} is a directory"


def test_no_stamp_or_a_vanished_file_is_changed(tmp_path):
    path = tmp_path / "gone.bib"
    path.write_text("x")
    stamp = file_stamp(path)
    path.unlink()
    assert not unchanged(path, stamp) and not unchanged(path, None)
    with pytest.raises(Unreadable, match="does not exist"):
        file_stamp(path)


def test_a_file_over_the_limit_is_stamped_by_its_metadata_alone(tmp_path):
    huge = tmp_path / "huge.bib"
    with open(huge, "wb") as f:
        f.truncate(MAX_BYTES + 1)
    stamp = file_stamp(huge)
    assert stamp.digest == "" and stamp.size == MAX_BYTES + 1 and unchanged(huge, stamp)
    assert read_bib(huge).stamp == stamp
    assert isinstance(stamp, FileStamp)
