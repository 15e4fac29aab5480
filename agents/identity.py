"""File identity: (device, inode) plus a fingerprint of the file's first line.

A path is not an identity: logrotate renames `app.log` to `app.log.1` and the same bytes
now live under another name. (device, inode) follows the file through renames, but the
kernel reuses inode numbers: after `app.log.3` is deleted a brand-new `app.log` may get
its inode. So the registry also keeps a fingerprint of the file's first bytes; same
inode with a different fingerprint is a new file and is read from offset 0.

The fingerprint covers the first line (up to FINGERPRINT_BYTES, newline included). Append-
only logs never change their first line, and the agent emits nothing before the first
newline exists, so the fingerprint is the same every time the file is looked at; it is
also part of `event.id`, which is why it must not depend on how much of the file existed
when it was first seen. A copytruncate'd file gets a new first line and so a new
fingerprint, keeping the ids of its new lines apart from the old ones at the same offsets.
"""
from __future__ import annotations

import hashlib
import os

FINGERPRINT_BYTES = 1024  # like Filebeat's fingerprint length; long enough to tell files apart
COPY_CHECK_BYTES = 4096  # compared at both ends of the shorter file: a copy repeats its original byte for byte


def file_key(st: os.stat_result) -> str:
    """The registry key of a file: 'device:inode' (Filebeat's native file identity)."""
    return f"{st.st_dev}:{st.st_ino}"


def fingerprint_bytes(head: bytes) -> str | None:
    """Fingerprint from the file's first bytes; None while the first line is incomplete."""
    nl = head.find(b"\n", 0, FINGERPRINT_BYTES)
    if nl >= 0:
        head = head[: nl + 1]
    elif len(head) < FINGERPRINT_BYTES:
        return None
    else:
        head = head[:FINGERPRINT_BYTES]
    return hashlib.blake2b(head, digest_size=8).hexdigest()


def fingerprint_fd(fd: int) -> str | None:
    return fingerprint_bytes(os.pread(fd, FINGERPRINT_BYTES, 0))


def fingerprint_path(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return fingerprint_bytes(f.read(FINGERPRINT_BYTES))
    except OSError:
        return None


def same_content(fd_a: int, fd_b: int) -> bool:
    """Whether two open files hold the same bytes as far as the shorter one goes (its first
    and last COPY_CHECK_BYTES compared): how a copy of a file is told from another file
    that only starts with the same line (a CSV or W3C header)."""
    n = min(os.fstat(fd_a).st_size, os.fstat(fd_b).st_size)
    if n == 0:
        # an empty file holds nobody's bytes: a copy whose original is empty now is the copy
        # of a truncated file (that nobody wrote to since), not a file still being copied
        return False
    k = min(n, COPY_CHECK_BYTES)
    return os.pread(fd_a, k, 0) == os.pread(fd_b, k, 0) and os.pread(fd_a, k, n - k) == os.pread(fd_b, k, n - k)


def first_line_bytes(fd: int) -> int:
    """Length of the first line, newline included (0 when it is not complete yet)."""
    return os.pread(fd, FINGERPRINT_BYTES, 0).find(b"\n") + 1
