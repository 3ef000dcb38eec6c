"""Service-account key files for the fake Google: a real RSA key, so google-auth signs."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

EMAIL = "lockerkey-sync@lockerkey-test.iam.gserviceaccount.com"


@functools.cache
def private_key_pem() -> str:
    """One 2048-bit RSA key per test process (generating one takes a moment)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def key_info(token_uri: str, email: str = EMAIL) -> dict[str, str]:
    """The JSON of a service-account key as the Cloud console downloads it."""
    return {
        "type": "service_account",
        "project_id": "lockerkey-test",
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": private_key_pem(),
        "client_email": email,
        "client_id": "123456789012345678901",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "universe_domain": "googleapis.com",
    }


def write_key(path: Path, token_uri: str, *, mode: int = 0o600, email: str = EMAIL) -> Path:
    """Write a key file with this mode; returns the path."""
    path.write_text(json.dumps(key_info(token_uri, email)), encoding="utf-8")
    os.chmod(path, mode)
    return path
