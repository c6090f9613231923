"""Writing result files atomically (a reader, or a crash, never sees a half-written file), and the short hashes
that name cache files."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

__all__ = ['atomic_path', 'short_hash', 'write_json', 'write_text']


def short_hash(data: str | bytes) -> str:
    """12 hex digits of the SHA-1 of ``data`` (text as UTF-8): how the project names cache files and settings."""
    return hashlib.sha1(data.encode() if isinstance(data, str) else data).hexdigest()[:12]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it replaces ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; give it the mode open() would
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (no half-written file on failure)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json(path: str | os.PathLike, payload: Any) -> Path:
    """Write ``payload`` as indented JSON, atomically."""
    return write_text(path, json.dumps(payload, indent=1))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
