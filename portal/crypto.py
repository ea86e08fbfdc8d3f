"""Encryption of personal data at rest (Fernet: AES-128-CBC + HMAC-SHA256).

The key is ``settings.FIELD_ENCRYPTION_KEY``. In development, when it is unset, a key is
derived from ``SECRET_KEY`` so that ``make run`` needs no set-up; production settings
refuse to start without a real key.
"""

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

__all__ = ["decrypt", "encrypt"]


@lru_cache(maxsize=4)
def _fernet(key: str, secret_key: str) -> Fernet:
    if not key:
        key = base64.urlsafe_b64encode(hashlib.sha256(secret_key.encode()).digest()).decode()
    return Fernet(key.encode())


def _current() -> Fernet:
    return _fernet(settings.FIELD_ENCRYPTION_KEY, settings.SECRET_KEY)


def encrypt(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken as exc:  # a wrong key must fail loudly, never show ciphertext
        raise ValueError(
            "Cannot decrypt a personal-data field: wrong FIELD_ENCRYPTION_KEY?"
        ) from exc
