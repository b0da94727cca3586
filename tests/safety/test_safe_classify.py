"""The whole classification tables (MT5_API.md §5.9 retcodes, §1.3 last_error codes)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from trademaestro.execution.safety.classify import (
    LAST_ERROR_NAMES,
    READ_ERROR_CLASS,
    RETCODE_CLASS,
    RETCODE_NAMES,
    SEND_ERROR_CLASS,
    Disposition,
    classify_read_error,
    classify_retcode,
    classify_send_error,
    error_label,
    retcode_label,
)

S, T, C, U, P = ("success", "transient", "connection", "unknown_outcome", "permanent")

# MT5_API.md §5.9: every documented retcode (no 10005, no 10037), plus 0 (§6.6/§6.7)
EXPECTED_RETCODES = {
    0: U, 10004: T, 10006: P, 10007: P, 10008: S, 10009: S, 10010: S, 10011: U, 10012: U,
    10013: P, 10014: P, 10015: P, 10016: P, 10017: P, 10018: P, 10019: P, 10020: T,
    10021: T, 10022: P, 10023: T, 10024: T, 10025: S, 10026: P, 10027: P, 10028: T,
    10029: P, 10030: P, 10031: C, 10032: P, 10033: P, 10034: P, 10035: P, 10036: P,
    10038: P, 10039: P, 10040: P, 10041: P, 10042: P, 10043: P, 10044: P, 10045: P,
    10046: P,
}
# MT5_API.md §1.3: the 15 RES_* codes
EXPECTED_READ = {
    1: S, -1: T, -2: P, -3: T, -4: P, -5: P, -6: P, -7: P, -8: P,
    -10000: C, -10001: C, -10002: C, -10003: C, -10004: C, -10005: C,
}
EXPECTED_SEND = {
    1: U, -1: U, -2: P, -3: U, -4: U, -5: P, -6: P, -7: P, -8: P,
    -10000: U, -10001: U, -10002: U, -10003: C, -10004: C, -10005: U,
}


def test_safe_retcode_table_is_complete_and_exact() -> None:
    assert {k: v.value for k, v in RETCODE_CLASS.items()} == EXPECTED_RETCODES
    assert set(RETCODE_NAMES) == set(EXPECTED_RETCODES) - {0}
    assert 10005 not in RETCODE_CLASS and 10037 not in RETCODE_CLASS
    for code, expected in EXPECTED_RETCODES.items():
        assert classify_retcode(code) is Disposition(expected)


def test_safe_last_error_tables_are_complete_and_exact() -> None:
    assert set(LAST_ERROR_NAMES) == set(EXPECTED_READ) == set(EXPECTED_SEND)
    assert {k: v.value for k, v in READ_ERROR_CLASS.items()} == EXPECTED_READ
    assert {k: v.value for k, v in SEND_ERROR_CLASS.items()} == EXPECTED_SEND
    for code, read in EXPECTED_READ.items():
        assert classify_read_error(code) is Disposition(read)
        assert classify_send_error(code) is Disposition(EXPECTED_SEND[code])


def test_safe_undocumented_codes_default_safely() -> None:
    assert classify_retcode(10037) is Disposition.UNKNOWN_OUTCOME
    assert classify_send_error(-99) is Disposition.UNKNOWN_OUTCOME
    assert classify_send_error(None) is Disposition.UNKNOWN_OUTCOME
    assert classify_read_error(-99) is Disposition.TRANSIENT
    assert classify_read_error(None) is Disposition.TRANSIENT


def test_safe_labels() -> None:
    assert retcode_label(10004) == "10004 REQUOTE"
    assert retcode_label(None) == "none"
    assert retcode_label(12345) == "12345 UNDOCUMENTED"
    assert error_label(-10004) == "-10004 RES_E_INTERNAL_FAIL_CONNECT"


@given(st.integers(min_value=-20000, max_value=20000))
def test_safe_send_is_never_less_cautious_than_read(code: int) -> None:
    """Whatever a read may retry after reconnecting, a lost order_send is never blindly
    retried: a read CONNECTION is an order_send CONNECTION only for codes proving nothing was
    sent (-10003, -10004), and no order_send failure is ever TRANSIENT."""
    send = classify_send_error(code)
    assert send is not Disposition.TRANSIENT and send is not Disposition.SUCCESS
    if send is Disposition.CONNECTION:
        assert code in (-10003, -10004)
