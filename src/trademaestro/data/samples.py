"""Data-file specs: a plain path, or ``sample:NAME`` for real sample data shipped by a package.

Samples (read in place from the installed package, never copied):

- ``sample:EURUSD_H1``: 5,000 EURUSD H1 bars (2017-04-19 → 2018-02-07),
  ``backtesting/test/EURUSD.csv``
- ``sample:GOOG_D1``: 2,148 GOOG daily bars (2004-08-19 → 2013-03-01),
  ``backtesting/test/GOOG.csv``

Both come with backtesting.py (``pip install -e '.[sample-data]'``).
"""

from __future__ import annotations

import importlib.resources
import importlib.util
from pathlib import Path

from trademaestro.core.errors import ConfigError, DataError

SAMPLE_PREFIX = "sample:"
SAMPLES: dict[str, tuple[str, str]] = {
    "EURUSD_H1": ("backtesting", "test/EURUSD.csv"),
    "GOOG_D1": ("backtesting", "test/GOOG.csv"),
}
_INSTALL = "pip install -e '.[sample-data]'"


def _package_file(package: str, relative: str) -> Path:
    """The file inside an installed package, located without importing the package (importing
    backtesting pulls in pandas and bokeh: over a second); falls back to importlib.resources
    for packages that are not plain directories."""
    spec = importlib.util.find_spec(package)
    if spec is None:
        raise ConfigError(
            f"sample data needs the {package!r} package, which is not installed; run: {_INSTALL}"
        )
    for location in spec.submodule_search_locations or ():
        candidate = Path(location) / relative
        if candidate.is_file():
            return candidate
    resource = importlib.resources.files(package).joinpath(relative)
    if isinstance(resource, Path) and resource.is_file():
        return resource
    raise ConfigError(
        f"the installed {package!r} package has no readable {relative} (it may be zipped or "
        f"incomplete); reinstall it with: {_INSTALL}"
    )


def resolve_data_path(spec: str) -> Path:
    """Turn a data spec into an existing file path.

    Args:
        spec: a file path, or ``sample:NAME`` with NAME one of :data:`SAMPLES` (case-insensitive).

    Returns:
        The path (a sample is returned where its package installed it).

    Raises:
        DataError: a plain path that does not exist or is not a file (naming it).
        ConfigError: an unknown sample name (listing the available ones), or the package that
            ships the sample is not installed (telling how to install it).
    """
    text = str(spec).strip()
    if text.lower().startswith(SAMPLE_PREFIX):
        name = text[len(SAMPLE_PREFIX) :].strip().upper()
        if name not in SAMPLES:
            available = ", ".join(SAMPLE_PREFIX + n for n in SAMPLES)
            raise ConfigError(f"unknown sample {text!r}; available: {available}")
        package, relative = SAMPLES[name]
        return _package_file(package, relative)
    path = Path(text).expanduser()
    if not path.exists():
        raise DataError(str(spec), None, f"data file not found: {spec}")
    if not path.is_file():
        raise DataError(str(spec), None, f"not a file: {spec}")
    return path
