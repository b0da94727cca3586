"""Importing the real ``MetaTrader5`` package, with an error that says what to do."""

from __future__ import annotations

import importlib
import platform
from typing import Any

from trademaestro.core.errors import ConfigError


def import_metatrader5() -> Any:
    """Return the real ``MetaTrader5`` module.

    Raises:
        ConfigError: on a system other than Windows (the package exists for Windows only), or when
            the package is not installed (install the ``mt5`` extra:
            ``pip install 'trademaestro[mt5]'``).
    """
    if platform.system() != "Windows":
        raise ConfigError(
            "the MetaTrader5 terminal package runs on Windows only (found platform "
            f"{platform.system()!r}); use the emulator here (--broker emulator), or run on Windows "
            "with the 'mt5' extra installed: pip install 'trademaestro[mt5]'"
        )
    try:
        return importlib.import_module("MetaTrader5")
    except ImportError as exc:  # pragma: no cover - Windows only
        raise ConfigError(
            "the MetaTrader5 package is not installed; install the 'mt5' extra: "
            "pip install 'trademaestro[mt5]'"
        ) from exc
