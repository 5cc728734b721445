"""Reading and appending to bibliography files safely, and telling one version of a file from another.

Owns the one way this package touches a file, so that a FIFO, ``/dev/zero``,
a directory or a 3 GB file named as a bibliography is refused with a reason
instead of hanging or filling memory:

- :func:`check_file`: only a regular file of at most :data:`MAX_BYTES`
  (64 MiB); anything else raises :class:`Unreadable` with a reason ("is a
  FIFO, not a file", "is 3.1 GB, over the 64 MiB limit", "does not exist");
- :func:`read_text_stamped` / :func:`read_text_file`: checked, then opened
  without blocking (a FIFO swapped in after the check cannot stall the open),
  checked again on the open file, read in chunks never past the limit (a file
  that grows while being read is refused), and decoded: UTF-8 (a BOM allowed),
  else Latin-1; NUL bytes mean binary, not a bibliography;
- :func:`appending`: the same checks for a file about to be appended to
  (created when missing);
- :class:`FileStamp`, :func:`file_stamp`, :func:`unchanged`: a version of a
  file as its device, inode, size, modification and change times plus a hash
  of its content, so that a file rewritten in place within one tick of the
  file system's clock at the same size (a Better BibTeX auto-export, on a file
  system with coarse timestamps) still counts as changed.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

MAX_BYTES = 64 * 1024 * 1024
# A file changed this long before it was read cannot change again unseen: any later write moves its
# change time. Within it (one tick of a coarse clock: 2 s on FAT, 1 s on HFS+, skew on network file
# systems), only the content tells.
RACY_NS = 5_000_000_000
_CHUNK = 1 << 20
BINARY = "is binary (NUL bytes), not a bibliography"
_OPEN_FLAGS = getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


class Unreadable(OSError):
    """A file that cannot be used as a bibliography; ``str()`` is ``"<path> <reason>"``."""

    def __init__(self, path: Path | str, reason: str, stamp: FileStamp | None = None):
        super().__init__(f"{path} {reason}")
        self.path = Path(path)
        self.reason = reason
        self.stamp = stamp  # the version seen, when the file is a regular one (too big, binary)

    def __reduce__(self):
        return (Unreadable, (self.path, self.reason, self.stamp))


@dataclass(frozen=True)
class FileStamp:
    """One version of a file. Equal stamps: the same content (see :func:`unchanged` for a cheap check)."""

    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int
    digest: str  # BLAKE2b-128 of the content; "" when it was not read (over the limit)
    read_at_ns: int = field(default=0, compare=False)  # wall-clock time just before the file was examined

    @staticmethod
    def of(st: os.stat_result, digest: str, read_at_ns: int) -> FileStamp:
        return FileStamp(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, digest, read_at_ns)

    @property
    def metadata(self) -> tuple[int, int, int, int, int]:
        return (self.device, self.inode, self.size, self.mtime_ns, self.ctime_ns)

    @property
    def racy(self) -> bool:
        """Whether the file was changed so shortly before it was read that a later write may keep its times."""
        return self.read_at_ns - max(self.mtime_ns, self.ctime_ns) <= RACY_NS


def size_text(size: int) -> str:
    """``3.1 GB``, ``12.0 MB``, ``900 bytes``."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def limit_text(limit: int) -> str:
    """``64 MiB``."""
    return f"{limit / 2**20:g} MiB" if limit >= 2**20 else f"{limit} bytes"


def _not_regular(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a directory"
    if stat.S_ISFIFO(mode):
        return "is a FIFO, not a file"
    if stat.S_ISCHR(mode):
        return "is a character device, not a file"
    if stat.S_ISBLK(mode):
        return "is a block device, not a file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a file"
    return "is not a regular file"


def _error_reason(exc: OSError, path: Path | str, doing: str = "read") -> str:
    if isinstance(exc, FileNotFoundError):
        return "is a symbolic link to nothing" if os.path.islink(path) else "does not exist"
    if isinstance(exc, NotADirectoryError):
        return "does not exist (a folder on its path is a file)"
    if isinstance(exc, IsADirectoryError):
        return "is a directory"
    if isinstance(exc, PermissionError):
        return f"cannot be {doing} (permission denied)"
    return f"cannot be {doing} ({exc.strerror or exc})"


def _checked(path: Path | str, st: os.stat_result, limit: int, read_at_ns: int) -> os.stat_result:
    reason = _not_regular(st.st_mode)
    if reason:
        raise Unreadable(path, reason)
    if st.st_size > limit:
        raise Unreadable(path, f"is {size_text(st.st_size)}, over the {limit_text(limit)} limit",
                         FileStamp.of(st, "", read_at_ns))
    return st


def check_file(path: Path | str, limit: int = MAX_BYTES) -> os.stat_result:
    """The file's status when it is a regular file of at most ``limit`` bytes; else :class:`Unreadable`."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise Unreadable(path, _error_reason(exc, path)) from None
    return _checked(path, st, limit, time.time_ns())


def _open(path: Path | str, flags: int, limit: int, read_at_ns: int) -> tuple[int, os.stat_result]:
    """An open descriptor on a checked regular file (checked again once open: it may have been swapped)."""
    try:
        fd = os.open(path, flags | _OPEN_FLAGS, 0o666)
    except FileNotFoundError as exc:
        if flags & os.O_CREAT and not os.path.lexists(path):
            raise Unreadable(path, "cannot be created: its folder does not exist") from None
        raise Unreadable(path, _error_reason(exc, path)) from None
    except OSError as exc:
        raise Unreadable(path, _error_reason(exc, path, "written" if flags & os.O_CREAT else "read")) from None
    try:
        return fd, _checked(path, os.fstat(fd), limit, read_at_ns)
    except BaseException:
        os.close(fd)
        raise


def _read(fd: int, path: Path | str, limit: int) -> bytes:
    """Everything from the descriptor's position, never more than ``limit`` bytes (one more to see growth)."""
    chunks, total = [], 0
    while True:
        chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise Unreadable(path, f"grew past the {limit_text(limit)} limit while being read")


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def text_of(data: bytes, path: Path | str) -> tuple[str, str]:
    """A bibliography's bytes as text, and the encoding to append to it in: ``utf-8`` or ``latin-1``.

    UTF-8 (a BOM dropped), else Latin-1, which reads any bytes. NUL bytes, or a UTF-16 BOM, are
    :class:`Unreadable`: BibTeX, biber and pandoc read neither.
    """
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise Unreadable(path, "is UTF-16 text, which BibTeX and pandoc cannot read: save it as UTF-8")
    if b"\0" in data:
        raise Unreadable(path, BINARY)
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def read_text_stamped(path: Path | str, limit: int = MAX_BYTES) -> tuple[str, FileStamp]:
    """A bibliography file's text and the version it was read from; :class:`Unreadable` with a reason.

    When the file is a regular one that cannot be used (too big, binary), the exception's
    ``stamp`` is its version, so that a caller need not read it again until it changes.
    """
    read_at = time.time_ns()
    check_file(path, limit)  # reasons before opening: a FIFO is never opened for reading here
    fd, st = _open(path, os.O_RDONLY, limit, read_at)
    try:
        data = _read(fd, path, limit)
    finally:
        os.close(fd)
    stamp = FileStamp.of(st, _digest(data), read_at)
    try:
        return text_of(data, path)[0], stamp
    except Unreadable as exc:
        raise Unreadable(path, exc.reason, stamp) from None


def read_text_file(path: Path | str, limit: int = MAX_BYTES) -> str:
    """A bibliography file's text (see :func:`read_text_stamped`); :class:`Unreadable` with a reason."""
    return read_text_stamped(path, limit)[0]


def file_stamp(path: Path | str, limit: int = MAX_BYTES) -> FileStamp:
    """The file's current version, its content hashed (a file over the limit: its metadata only).

    Raises :class:`Unreadable` when it is not a regular file (or does not exist).
    """
    try:
        return read_text_stamped(path, limit)[1]
    except Unreadable as exc:
        if exc.stamp is None:
            raise
        return exc.stamp


def unchanged(path: Path | str, stamp: FileStamp | None) -> bool:
    """Whether the file is still the version ``stamp`` was taken of; cheap unless it was racy.

    Different metadata: changed. The same metadata and a stamp taken well after the file's last
    change (see :data:`RACY_NS`): unchanged, no reading. Otherwise the content's hash decides.
    """
    if stamp is None:
        return False
    try:
        st = os.stat(path)
    except OSError:
        return False
    if FileStamp.of(st, "", 0).metadata != stamp.metadata:
        return False
    if not stamp.digest or not stamp.racy:
        return True
    try:
        return file_stamp(path).digest == stamp.digest
    except Unreadable:
        return False


@contextmanager
def appending(path: Path | str, limit: int = MAX_BYTES) -> Iterator[tuple[bytes, Callable[[bytes], None]]]:
    """The bytes of a file about to be appended to (created when missing), and a function appending bytes.

    The same checks as for reading: a FIFO, a device, a directory or a file over the limit is
    :class:`Unreadable` before anything is read or written. Appended bytes are flushed to disk.
    """
    if os.path.lexists(path):
        check_file(path, limit)
    fd, _ = _open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, limit, time.time_ns())
    try:
        existing = _read(fd, path, limit)

        def append(data: bytes) -> None:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)

        yield existing, append
    finally:
        os.close(fd)
