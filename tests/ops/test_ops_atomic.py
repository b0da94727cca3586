"""Atomic state files: journal + fsync + rename, and recovery of a journal left by a crash."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trademaestro.persistence import atomic
from trademaestro.persistence.atomic import (
    StateFileError,
    decode,
    encode,
    journal_path,
    load_state,
    read_atomic,
    recover,
    save_state,
    write_atomic,
)


def test_encoded_layout_is_header_line_then_payload() -> None:
    payload = b'{"a": 1}'
    blob = encode(payload)
    digest = hashlib.sha256(payload).hexdigest()
    assert blob == b"TMSTATE1 8 " + digest.encode() + b"\n" + payload
    assert decode(blob) == payload


def test_round_trip_bytes_and_text(tmp_path: Path) -> None:
    path = tmp_path / "state.bin"
    data = bytes(range(256)) * 3 + b"\n\r\x00"
    write_atomic(path, data)
    assert read_atomic(path) == data
    write_atomic(path, "héllo €")
    assert read_atomic(path) == "héllo €".encode()
    assert not journal_path(path).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.bin"]


def test_missing_file_reads_as_none(tmp_path: Path) -> None:
    assert read_atomic(tmp_path / "nothing.json") is None
    assert load_state(tmp_path / "nothing.json") is None


def test_empty_payload_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    write_atomic(path, b"")
    assert read_atomic(path) == b""


def test_truncated_journal_is_discarded_and_old_state_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "state.json"
    save_state(path, {"ticket": 1, "open": True})
    full = encode(b'{"ticket": 2, "open": false}')
    journal_path(path).write_bytes(full[:-5])  # the crash hit while writing the journal
    with caplog.at_level(logging.WARNING, logger="trademaestro.persistence.atomic"):
        assert load_state(path) == {"ticket": 1, "open": True}
    assert not journal_path(path).exists()
    assert "discarded incomplete journal" in caplog.text
    assert "payload bytes, header says" in caplog.text


@pytest.mark.parametrize(
    "content",
    [b"", b"TMSTATE1 12", b"TMSTATE1 x y\n{}", b"garbage\n"],
    ids=["empty", "half-header", "bad-header", "no-header"],
)
def test_journal_without_valid_header_is_discarded(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "state.json"
    save_state(path, [1, 2, 3])
    journal_path(path).write_bytes(content)
    assert recover(path) == "discarded"
    assert load_state(path) == [1, 2, 3]


def test_journal_with_bad_checksum_is_discarded(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    save_state(path, {"v": 1})
    blob = bytearray(encode(b'{"v": 2}'))
    blob[-2] = ord("3")  # same length, different bytes
    journal_path(path).write_bytes(bytes(blob))
    assert load_state(path) == {"v": 1}


def test_complete_journal_is_promoted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "state.json"
    save_state(path, {"v": 1})
    # the crash hit after the journal's fsync, before the rename
    journal_path(path).write_bytes(encode(b'{"v": 2}'))
    with caplog.at_level(logging.WARNING, logger="trademaestro.persistence.atomic"):
        assert load_state(path) == {"v": 2}
    assert not journal_path(path).exists()
    assert path.read_bytes() == encode(b'{"v": 2}')
    assert "promoted the complete journal" in caplog.text


def test_complete_journal_without_previous_file_is_promoted(tmp_path: Path) -> None:
    path = tmp_path / "first.json"
    journal_path(path).write_bytes(encode(b"[true]"))
    assert load_state(path) == [True]
    assert recover(path) is None


def test_damaged_state_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    save_state(path, {"v": 1})
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(StateFileError) as info:
        load_state(path)
    assert str(path) in str(info.value)
    assert "damaged state file" in str(info.value)
    plain = tmp_path / "plain.json"
    plain.write_text('{"v": 1}')
    with pytest.raises(StateFileError, match="no TMSTATE1 header"):
        load_state(plain)


def test_payload_that_is_not_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    write_atomic(path, '{"a": 1,\n "b": }')
    with pytest.raises(StateFileError, match="line 2 column 7"):
        load_state(path)


def test_non_json_state_is_refused_and_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    save_state(path, {"v": 1})
    with pytest.raises(StateFileError, match="not JSON-serialisable"):
        save_state(path, {"v": float("nan")})
    with pytest.raises(StateFileError, match="not JSON-serialisable"):
        save_state(path, {"v": object()})
    assert load_state(path) == {"v": 1}
    assert not journal_path(path).exists()


@pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")
def test_permissions_of_the_replaced_file_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "secret.json"
    save_state(path, {"v": 1})
    os.chmod(path, 0o600)
    save_state(path, {"v": 2})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    os.chmod(path, 0o640)
    save_state(path, {"v": 3})
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert load_state(path) == {"v": 3}


@pytest.mark.skipif(os.name == "nt", reason="POSIX umask")
def test_new_file_gets_umask_permissions(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        save_state(tmp_path / "new.json", 1)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o640


def test_write_into_missing_directory_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "absent" / "state.json"
    with pytest.raises(StateFileError, match="cannot write"):
        save_state(path, {})


def test_failed_rename_leaves_old_state_and_no_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.json"
    save_state(path, {"v": 1})

    def failing_replace(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", failing_replace)
    with pytest.raises(StateFileError, match="No space left"):
        save_state(path, {"v": 2})
    monkeypatch.undo()
    assert not journal_path(path).exists()
    assert load_state(path) == {"v": 1}


def test_fsync_is_called_on_file_and_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        calls.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(atomic.os, "fsync", spy)
    save_state(tmp_path / "s.json", {"v": 1})
    expected = ["file"] if os.name == "nt" else ["file", "dir"]
    assert calls == expected


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=25,
)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(value=json_values)
def test_json_state_round_trips(tmp_path_factory: pytest.TempPathFactory, value: Any) -> None:
    path = tmp_path_factory.mktemp("rt") / "state.json"
    save_state(path, value)
    # JSON floats round-trip exactly through repr(); equality here is identity of the value
    assert load_state(path) == value
    assert not journal_path(path).exists()
