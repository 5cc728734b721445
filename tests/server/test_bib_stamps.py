"""When the server reads a bibliography file again: whenever its content may have changed, never otherwise."""

from __future__ import annotations

import os

from galactica_lsp.bibliography.files import FileStamp, read_text_stamped
from galactica_lsp.server.bibliography import _disk_stamp, _parse_disk


def test_the_version_read_stands_while_the_file_is_unchanged(tmp_path):
    path = tmp_path / "refs.bib"
    path.write_text("@misc{early2024, title = {Early}}\n")
    bib, problem, stamp = _parse_disk(path)
    assert problem is None and [e.key for e in bib.entries] == ["early2024"]
    assert isinstance(stamp, FileStamp) and stamp == read_text_stamped(path)[1]
    assert _disk_stamp(path, stamp) is stamp


def test_a_rewrite_at_the_same_size_and_modification_time_is_a_new_version(tmp_path):
    path = tmp_path / "refs.bib"
    path.write_text("@misc{early2024, title = {Early}}\n")
    _, _, stamp = _parse_disk(path)
    before = os.stat(path)
    path.write_text("@misc{later2024, title = {Later}}\n")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # a coarse clock: the same tick
    assert os.stat(path).st_size == before.st_size
    now = _disk_stamp(path, stamp)
    assert now != stamp
    bib, _, read = _parse_disk(path)
    assert [e.key for e in bib.entries] == ["later2024"] and _disk_stamp(path, read) is read


def test_files_that_are_not_read_keep_a_stamp_of_their_metadata(tmp_path):
    missing = tmp_path / "missing.json"
    assert _disk_stamp(missing, None) == ("missing",) == _disk_stamp(missing, ("missing",))
    os.mkfifo(tmp_path / "pipe.bib")
    _, problem, stamp = _parse_disk(tmp_path / "pipe.bib")
    assert stamp is None and "is a FIFO" in problem
    assert _disk_stamp(tmp_path / "pipe.bib", None) == _disk_stamp(tmp_path / "pipe.bib", None)  # not read again
    missing.write_text("[]")
    assert _disk_stamp(missing, ("missing",)) != ("missing",)
