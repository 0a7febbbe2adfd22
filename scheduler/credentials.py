"""Channel credentials, encrypted at rest with the settings secret (Fernet: AES-CBC + HMAC-SHA256)."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from scheduler.errors import ConfigurationError
from scheduler.settings import Settings


def _fernet(settings: Settings) -> Fernet:
    key = base64.urlsafe_b64encode(hashlib.sha256(b"crosspost-credentials:" + settings.secret()).digest())
    return Fernet(key)


def encrypt_credentials(credentials: dict[str, Any], settings: Settings) -> bytes:
    return _fernet(settings).encrypt(json.dumps(credentials).encode())


def decrypt_credentials(blob: bytes | None, settings: Settings, channel: str) -> dict[str, Any] | None:
    if blob is None:
        return None
    try:
        data: dict[str, Any] = json.loads(_fernet(settings).decrypt(blob))
    except InvalidToken:
        raise ConfigurationError(
            f"cannot decrypt the credentials of channel {channel!r}: CROSSPOST_SECRET_KEY is not the one "
            "they were stored with"
        ) from None
    return data
