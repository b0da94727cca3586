"""The executor's API key and secret for the web platform.

They come from the operating system's credential store through ``keyring`` (Windows Credential
Manager on Windows, Keychain on macOS, Secret Service on Linux) and, for headless machines, from
the environment variables ``TRADEMAESTRO_API_KEY`` / ``TRADEMAESTRO_API_SECRET``. They are never
written to a file or a log: :class:`Credentials` masks itself in ``repr``/``str``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from trademaestro.core.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_SERVICE = "trademaestro"
KEY_ENV = "TRADEMAESTRO_API_KEY"
SECRET_ENV = "TRADEMAESTRO_API_SECRET"
KEY_USERNAME = "api_key"
SECRET_USERNAME = "api_secret"
_SHOWN_KEY_CHARS = 4
_MIN_KEY_TO_SHOW = 8


class KeyringBackend(Protocol):
    """The part of the ``keyring`` module this module uses (the module itself satisfies it)."""

    def get_password(self, service_name: str, username: str) -> str | None: ...

    def set_password(self, service_name: str, username: str, password: str) -> None: ...

    def delete_password(self, service_name: str, username: str) -> None: ...


def _mask_key(key: str) -> str:
    if len(key) >= _MIN_KEY_TO_SHOW:
        return "***" + key[-_SHOWN_KEY_CHARS:]
    return "***"


@dataclass(frozen=True)
class Credentials:
    """The API key and secret the platform binds to one executor id.

    ``repr``/``str`` show only the key's last 4 characters (keys shorter than 8 characters are
    masked entirely) and never the secret, so that logging the object is harmless.
    """

    api_key: str = field(repr=False)
    api_secret: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.api_key or not self.api_secret:
            raise ConfigError("API key and API secret must both be non-empty")

    def headers(self) -> dict[str, str]:
        """The two authentication headers every platform request carries."""
        return {"X-API-Key": self.api_key, "X-API-Secret": self.api_secret}

    @property
    def masked_key(self) -> str:
        """The key for display: ``***`` and its last 4 characters."""
        return _mask_key(self.api_key)

    def __repr__(self) -> str:
        return f"Credentials(api_key={self.masked_key!r}, api_secret='***')"

    def __str__(self) -> str:
        return self.__repr__()


def _default_keyring() -> KeyringBackend | None:
    try:
        import keyring
    except Exception as exc:  # pragma: no cover - keyring is a dependency
        log.debug("keyring unavailable: %s", type(exc).__name__)
        return None
    return keyring


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def _from_keyring(backend: KeyringBackend | None, service: str) -> Credentials | None:
    if backend is None:
        return None
    try:
        key = _clean(backend.get_password(service, KEY_USERNAME))
        secret = _clean(backend.get_password(service, SECRET_USERNAME))
    except Exception as exc:
        # No backend, a locked store, D-Bus missing: fall through to the environment. The
        # exception text is not logged: some backends echo what they were given.
        log.info("keyring not usable (%s); trying the environment", type(exc).__name__)
        return None
    if key and secret:
        return Credentials(key, secret)
    if key or secret:
        log.warning(
            "keyring service %r holds only the %s; trying the environment",
            service,
            KEY_USERNAME if key else SECRET_USERNAME,
        )
    return None


def load_credentials(
    service: str = DEFAULT_SERVICE,
    env: Mapping[str, str] | None = None,
    *,
    keyring: KeyringBackend | None = None,
) -> Credentials:
    """The credentials: from the keyring first, then from the environment.

    Args:
        service: keyring service name; entries ``api_key`` and ``api_secret``.
        env: the environment (default ``os.environ``); ``TRADEMAESTRO_API_KEY`` and
            ``TRADEMAESTRO_API_SECRET``. Surrounding whitespace is stripped; empty counts as
            missing.
        keyring: the keyring backend (default: the ``keyring`` module). Any error it raises,
            including a missing backend, falls through to the environment.

    A source is used only when it holds both values.

    Raises:
        ConfigError: neither source holds both values; the message names both sources.
    """
    env = os.environ if env is None else env
    backend = keyring if keyring is not None else _default_keyring()
    found = _from_keyring(backend, service)
    if found is not None:
        return found
    key, secret = _clean(env.get(KEY_ENV)), _clean(env.get(SECRET_ENV))
    if key and secret:
        return Credentials(key, secret)
    missing = [name for name, value in ((KEY_ENV, key), (SECRET_ENV, secret)) if not value]
    raise ConfigError(
        f"no platform credentials: keyring service {service!r} has no "
        f"{KEY_USERNAME!r}/{SECRET_USERNAME!r} pair, and the environment lacks "
        f"{' and '.join(missing)}; store them with `store_credentials` (keyring) or set "
        f"{KEY_ENV} and {SECRET_ENV}"
    )


def store_credentials(
    credentials: Credentials,
    service: str = DEFAULT_SERVICE,
    *,
    keyring: KeyringBackend | None = None,
) -> None:
    """Store the key and secret in the keyring (never in a file).

    Raises:
        ConfigError: no usable keyring backend; the message suggests the environment variables.
    """
    backend = keyring if keyring is not None else _default_keyring()
    if backend is None:
        raise ConfigError(f"no keyring available; set {KEY_ENV} and {SECRET_ENV} instead")
    try:
        backend.set_password(service, KEY_USERNAME, credentials.api_key)
        backend.set_password(service, SECRET_USERNAME, credentials.api_secret)
    except Exception as exc:
        raise ConfigError(
            f"could not store the credentials in the keyring ({type(exc).__name__}); "
            f"set {KEY_ENV} and {SECRET_ENV} instead"
        ) from None


def delete_credentials(
    service: str = DEFAULT_SERVICE, *, keyring: KeyringBackend | None = None
) -> None:
    """Remove the key and secret from the keyring; entries already absent are ignored."""
    backend = keyring if keyring is not None else _default_keyring()
    if backend is None:
        return
    for username in (KEY_USERNAME, SECRET_USERNAME):
        try:
            backend.delete_password(service, username)
        except Exception as exc:
            log.info("keyring: could not delete %r (%s)", username, type(exc).__name__)
