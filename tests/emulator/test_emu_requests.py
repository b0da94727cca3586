"""Request parsing strictness of order_send / order_check (MT5_API.md §1.5, §6.1, §10.9)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from trademaestro.brokers.emulator import MT5Emulator


@pytest.fixture()
def live(emu: MT5Emulator) -> MT5Emulator:
    emu.replay.open_bar("XAUUSD", 100)
    return emu


BUY = {"action": 1, "symbol": "XAUUSD", "volume": 0.1, "type": 0}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"volume": 1}, 'Invalid "volume" argument'),
        ({"sl": 0}, 'Invalid "sl" argument'),
        ({"tp": None}, 'Invalid "tp" argument'),
        ({"magic": np.int64(5)}, 'Invalid "magic" argument'),
        ({"type": 0.0}, 'Invalid "type" argument'),
        ({"comment": "x" * 30}, 'Invalid "comment" argument'),
        ({"symbol": "X" * 30}, 'Invalid "symbol" argument'),
        ({"expiration": dt.datetime(2030, 1, 1)}, 'Invalid "expiration" argument'),
        ({"price": "2200.0"}, 'Invalid "price" argument'),
        ({"position": 1.0}, 'Invalid "position" argument'),
    ],
)
def test_type_errors_give_minus_2(live: MT5Emulator, extra: dict, message: str) -> None:
    assert live.order_send({**BUY, **extra}) is None
    assert live.last_error() == (-2, message)
    assert live.order_check({**BUY, **extra}) is None
    assert live.last_error() == (-2, message)
    assert live.positions_total() == 0


def test_first_error_in_key_order_wins(live: MT5Emulator) -> None:
    # comment comes after volume in the C parser's order, whatever the dict order
    req = {"comment": "y" * 40, "volume": 1, "action": 1, "symbol": "XAUUSD"}
    assert live.order_send(req) is None
    assert live.last_error() == (-2, 'Invalid "volume" argument')
    assert live.order_send({"magic": None, "action": "1"}) is None
    assert live.last_error() == (-2, 'Invalid "action" argument')


def test_accepted_types_and_defaults(live: MT5Emulator) -> None:
    req = {**BUY, "volume": np.float64(0.1), "comment": "c" * 29, "typo_key": object(),
           "magic": True}
    res = live.order_send(req)
    assert res.retcode == 10009
    echo = res.request
    assert echo.volume == 0.1 and type(echo.volume) is float
    assert (echo.magic, echo.order, echo.price, echo.sl, echo.deviation, echo.type_filling,
            echo.type_time, echo.expiration, echo.position, echo.position_by) == (
        1, 0, 0.0, 0.0, 0, 0, 0, 0, 0, 0)
    assert echo.comment == "c" * 29
    pos = live.positions_get()[0]
    assert pos.magic == 1 and pos.comment == "c" * 29


def test_negative_unsigned_is_system_error(live: MT5Emulator) -> None:
    with pytest.raises(SystemError, match="order_send") as info:
        live.order_send({**BUY, "magic": -1})
    assert isinstance(info.value.__cause__, OverflowError)
    assert live.last_error() == (-2, 'Invalid "magic" argument')
    with pytest.raises(SystemError):
        live.order_check({**BUY, "position": -5})
    assert live.positions_total() == 0


def test_keyword_form_and_argument_count(live: MT5Emulator) -> None:
    res = live.order_send(action=1, symbol="XAUUSD", volume=0.01, type=1)
    assert res.retcode == 10009 and res.request.type == 1
    assert live.order_send(BUY, volume=0.1) is None
    assert live.last_error() == (-2, "Unnamed arguments not allowed")
    assert live.order_send() is None
    assert live.last_error() == (-2, "Invalid number of arguments")
    assert live.order_send(BUY, BUY) is None
    assert live.last_error() == (-2, "Invalid number of arguments")
    assert live.order_send([("action", 1)]) is None
    assert live.last_error() == (-2, "Invalid arguments")


def test_date_arguments(live: MT5Emulator) -> None:
    with pytest.raises(SystemError):
        live.history_deals_get(0, 2**31)
    assert live.last_error()[0] == -2
    assert live.history_deals_get(0, np.datetime64("2030-01-01")) is None
    assert live.last_error() == (-2, "Invalid arguments")
    # aware datetimes become POSIX seconds; floats are truncated
    aware = dt.datetime(1970, 1, 1, 0, 0, 59, 900000, tzinfo=dt.UTC)
    assert live.history_deals_total(0, aware) == 1  # the initial deposit at time 0
    assert live.history_deals_total(0.9, 2.0**31 - 1) == 1
