"""resolve_data_path: plain paths and ``sample:`` specs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from trademaestro.core.errors import ConfigError, DataError
from trademaestro.data import resolve_data_path
from trademaestro.data import samples as samples_module


def test_plain_path_returns_itself(shared_data: Path) -> None:
    path = shared_data / "XAUUSD_H1.csv"
    assert resolve_data_path(str(path)) == path


def test_missing_path_and_directory_named(tmp_path: Path) -> None:
    missing = tmp_path / "XAUUSD_M1.csv"
    with pytest.raises(DataError) as info:
        resolve_data_path(str(missing))
    assert info.value.path == str(missing)
    assert str(missing) in str(info.value)
    assert "not found" in str(info.value)
    with pytest.raises(DataError, match="not a file"):
        resolve_data_path(str(tmp_path))


def test_sample_resolves_inside_installed_backtesting() -> None:
    spec = importlib.util.find_spec("backtesting")
    assert spec is not None and spec.submodule_search_locations
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    path = resolve_data_path("sample:EURUSD_H1")
    assert path == package_dir / "test" / "EURUSD.csv"  # in place, not a copy
    assert resolve_data_path(" Sample:eurusd_h1 ") == path
    assert resolve_data_path("sample:GOOG_D1") == package_dir / "test" / "GOOG.csv"


def test_unknown_sample_lists_available() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_data_path("sample:XAUUSD_M1")
    message = str(info.value)
    assert "unknown sample 'sample:XAUUSD_M1'" in message
    assert "sample:EURUSD_H1" in message
    assert "sample:GOOG_D1" in message


def test_backtesting_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def fake(name: str, package: str | None = None) -> object:
        return None if name == "backtesting" else real(name, package)

    monkeypatch.setattr(samples_module.importlib.util, "find_spec", fake)
    with pytest.raises(ConfigError) as info:
        resolve_data_path("sample:EURUSD_H1")
    assert "pip install -e '.[sample-data]'" in str(info.value)
    assert "'backtesting'" in str(info.value)
