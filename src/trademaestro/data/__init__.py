"""Market data: loaders for MT5 bar exports and Dukascopy tick files, resampling, data specs.

Times everywhere are broker server time in seconds (or milliseconds) since 1970-01-01, the
wall-clock text of the files read as if it were UTC.
"""

from trademaestro.data.loaders import LoadedBars, LoadedTicks, load_bars, load_ticks
from trademaestro.data.resample import bar_close_times, resample
from trademaestro.data.samples import resolve_data_path

__all__ = [
    "LoadedBars",
    "LoadedTicks",
    "bar_close_times",
    "load_bars",
    "load_ticks",
    "resample",
    "resolve_data_path",
]
