"""Credentials: keyring first, environment second, a clear error naming both; masked repr."""

from __future__ import annotations

import logging

import pytest

from trademaestro.core.errors import ConfigError
from trademaestro.platform.credentials import (
    Credentials,
    delete_credentials,
    load_credentials,
    store_credentials,
)

SECRET = "very-secret-value-42"


class FakeKeyring:
    def __init__(
        self, store: dict[tuple[str, str], str] | None = None, fail: Exception | None = None
    ) -> None:
        self.store = dict(store or {})
        self.fail = fail

    def get_password(self, service_name: str, username: str) -> str | None:
        if self.fail:
            raise self.fail
        return self.store.get((service_name, username))

    def set_password(self, service_name: str, username: str, password: str) -> None:
        if self.fail:
            raise self.fail
        self.store[(service_name, username)] = password

    def delete_password(self, service_name: str, username: str) -> None:
        if self.fail:
            raise self.fail
        del self.store[(service_name, username)]


ENV = {"TRADEMAESTRO_API_KEY": "env-key-12345678", "TRADEMAESTRO_API_SECRET": "env-secret"}


def test_keyring_first() -> None:
    ring = FakeKeyring(
        {("trademaestro", "api_key"): "ring-key-abcdefgh", ("trademaestro", "api_secret"): SECRET}
    )
    assert load_credentials(env=ENV, keyring=ring) == Credentials("ring-key-abcdefgh", SECRET)


def test_store_then_load_and_delete() -> None:
    ring = FakeKeyring()
    store_credentials(Credentials("stored-key-0000wxyz", SECRET), "svc", keyring=ring)
    assert load_credentials("svc", env={}, keyring=ring) == Credentials(
        "stored-key-0000wxyz", SECRET
    )
    delete_credentials("svc", keyring=ring)
    assert ring.store == {}
    delete_credentials("svc", keyring=ring)  # already gone: no error


@pytest.mark.parametrize(
    "ring",
    [
        FakeKeyring(),  # empty
        FakeKeyring({("trademaestro", "api_key"): "only-the-key-1234"}),  # half a pair
        FakeKeyring({("trademaestro", "api_key"): " ", ("trademaestro", "api_secret"): ""}),
        FakeKeyring(fail=RuntimeError("No recommended backend was available")),
    ],
)
def test_environment_fallback(ring: FakeKeyring) -> None:
    creds = load_credentials(env={k: f" {v}\n" for k, v in ENV.items()}, keyring=ring)
    assert creds == Credentials("env-key-12345678", "env-secret")  # whitespace stripped


def test_real_keyring_module_error_falls_through(monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring
    import keyring.errors

    def broken(service: str, username: str) -> str | None:
        raise keyring.errors.NoKeyringError("no backend")

    monkeypatch.setattr(keyring, "get_password", broken)
    assert load_credentials(env=ENV).api_key == "env-key-12345678"


def test_neither_source_names_both() -> None:
    with pytest.raises(ConfigError) as info:
        load_credentials(env={"TRADEMAESTRO_API_KEY": "k"}, keyring=FakeKeyring())
    message = str(info.value)
    assert "keyring service 'trademaestro'" in message
    assert "TRADEMAESTRO_API_SECRET" in message
    assert "lacks TRADEMAESTRO_API_SECRET;" in message  # the key was there


def test_masking() -> None:
    creds = Credentials("abcdefgh-1234-WXYZ", SECRET)
    for text in (repr(creds), str(creds), f"{creds}", f"{creds!r}", f"{[creds]}"):
        assert SECRET not in text
        assert "abcdefgh-1234" not in text
        assert "***WXYZ" in text
    assert "short" not in repr(Credentials("short", SECRET))
    assert creds.headers() == {"X-API-Key": "abcdefgh-1234-WXYZ", "X-API-Secret": SECRET}


def test_empty_values_refused() -> None:
    with pytest.raises(ConfigError):
        Credentials("", SECRET)
    with pytest.raises(ConfigError):
        Credentials("k", "")


def test_store_failure_is_config_error_without_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    ring = FakeKeyring(fail=RuntimeError(f"locked {SECRET}"))
    with pytest.raises(ConfigError, match="TRADEMAESTRO_API_KEY") as info:
        store_credentials(Credentials("k" * 10, SECRET), keyring=ring)
    assert SECRET not in str(info.value)
    assert info.value.__cause__ is None
    load_credentials(env=ENV, keyring=ring)
    delete_credentials(keyring=ring)
    assert SECRET not in caplog.text
