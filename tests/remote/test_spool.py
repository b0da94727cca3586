"""The command-line spool: validated before it is written, read back in order, bad files left
for an operator."""

from __future__ import annotations

from pathlib import Path

import pytest

from trademaestro.platform.commands import CommandError
from trademaestro.platform.spool import CommandSpool, spool_dir


def test_a_spooled_command_is_read_back_in_order(tmp_path: Path) -> None:
    spool = CommandSpool(spool_dir(tmp_path / "runs.sqlite"))
    assert spool.directory == tmp_path / "runs.sqlite.commands"
    assert spool.pending() == []
    first = spool.put({"command": "close_all", "parameters": {"symbol": "XAUUSD"}})
    second = spool.put({"commandId": "c/2", "type": "pauseStrategy",
                        "params": {"strategyId": "s1"}})
    assert first.startswith("cli-") and len(first) == 16 and second == "c/2"
    pending = spool.pending()
    assert [p.name for p, _ in pending] == [f"{first}.json", "c_2.json"]
    assert pending[0][1] == {"command": "close_all", "parameters": {"symbol": "XAUUSD"},
                             "commandId": first}


def test_an_invalid_command_is_refused_before_it_is_written(tmp_path: Path) -> None:
    spool = CommandSpool(tmp_path / "spool")
    with pytest.raises(CommandError, match=r"parameters\.volume"):
        spool.put({"command": "OPEN_POSITION",
                   "parameters": {"symbol": "XAUUSD", "side": "buy", "volume": 0}})
    assert not spool.directory.exists()


def test_a_damaged_file_is_left_for_an_operator(tmp_path: Path) -> None:
    spool = CommandSpool(tmp_path / "spool")
    good = spool.put({"command": "CLOSE_ALL"})
    (spool.directory / "broken.json").write_bytes(b"\x00not json")
    assert [p.stem for p, _ in spool.pending()] == [good]
    assert (spool.directory / "broken.json").exists()
