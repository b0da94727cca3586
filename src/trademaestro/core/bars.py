"""The numpy record layouts of MT5's ``copy_rates_*`` and ``copy_ticks_*`` (MT5_API.md §4).

Both are packed (no padding): ``RATES_DTYPE.itemsize == 60``. Times are broker server time in
seconds (``time``) or milliseconds (``time_msc``); prices are bid prices in price units;
``spread`` is in points.
"""

from __future__ import annotations

import numpy as np

RATES_DTYPE = np.dtype(
    [
        ("time", "<i8"),
        ("open", "<f8"),
        ("high", "<f8"),
        ("low", "<f8"),
        ("close", "<f8"),
        ("tick_volume", "<u8"),
        ("spread", "<i4"),
        ("real_volume", "<u8"),
    ]
)

TICKS_DTYPE = np.dtype(
    [
        ("time", "<i8"),
        ("bid", "<f8"),
        ("ask", "<f8"),
        ("last", "<f8"),
        ("volume", "<u8"),
        ("time_msc", "<i8"),
        ("flags", "<u4"),
        ("volume_real", "<f8"),
    ]
)

assert RATES_DTYPE.itemsize == 60
