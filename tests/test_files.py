"""Files the project writes: atomic, normal permissions, and a model folder that is never absent."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from cryptousd.files import atomic_write, write_json
from cryptousd.forecast import model_folder
from cryptousd.forecast.model_folder import write_model_folder


@pytest.fixture
def umask022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_written_files_get_normal_permissions(tmp_path, umask022):
    write_json(tmp_path / "r.json", {"a": 1})
    atomic_write(tmp_path / "b.bin", lambda tmp: Path(tmp).write_bytes(b"x"))
    assert mode(tmp_path / "r.json") == 0o644 and mode(tmp_path / "b.bin") == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.bin", "r.json"]  # no temporary left


def test_a_failed_write_keeps_the_old_file(tmp_path):
    write_json(tmp_path / "r.json", {"v": 1})

    def boom(tmp):
        Path(tmp).write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write(tmp_path / "r.json", boom)
    assert (tmp_path / "r.json").read_text().strip().endswith("}") and "half" not in (
        tmp_path / "r.json"
    ).read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_model_folder_replacement_swaps_in_one_step(tmp_path, umask022):
    out = tmp_path / "m"
    write_model_folder(out, {"card.json": lambda p: p.write_text("old")})
    seen_missing = []
    stop = threading.Event()

    def watch():  # look for a moment with no folder while it is being replaced
        while not stop.is_set():
            if not (out / "card.json").exists():
                seen_missing.append(True)

    t = threading.Thread(target=watch)
    t.start()
    try:
        for i in range(30):
            write_model_folder(out, {"card.json": lambda p, i=i: p.write_text(f"new {i}")})
    finally:
        stop.set()
        t.join()
    assert (out / "card.json").read_text() == "new 29"
    assert not seen_missing
    assert mode(out) == 0o755 and mode(out / "card.json") == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # the old model and temporaries are gone


def test_exchange_swaps_two_folders(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("a")
    (b / "x").write_text("b")
    assert model_folder._exchange(a, b)  # Linux: renameat2(RENAME_EXCHANGE)
    assert (a / "x").read_text() == "b" and (b / "x").read_text() == "a"


def test_json_results_are_strict_json(tmp_path):
    import json

    import numpy as np

    write_json(
        tmp_path / "r.json", {"hit_rate": float("nan"), "x": [np.float64("inf"), np.float64(1.5)]}
    )
    text = (tmp_path / "r.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"hit_rate": None, "x": [None, 1.5]}
