"""files.py: atomic writes that honour the umask, as a plain open() would."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gan_repro.files import atomic_write, write_json

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_atomic_writes_honour_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    previous = os.umask(umask)
    try:
        written = [
            atomic_write(tmp_path / "a.bin", lambda handle: handle.write(b"x")),
            write_json(tmp_path / "b.json", {"a": 1}),
        ]
    finally:
        os.umask(previous)
    assert [path.stat().st_mode & 0o777 for path in written] == [mode, mode]
