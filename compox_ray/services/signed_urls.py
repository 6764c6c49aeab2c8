"""Signed, expiring URLs to this server's own transfer endpoints (a local blob store's stand-in for
presigned S3 URLs): the signature is the credential, so the URL alone lets its holder PUT or GET
one object until it expires, and nothing else.

The signature is HMAC-SHA256 over the method, the object name and the expiry time under a server
secret: the setting ``transfer_url_secret``, else a random one kept in ``<data_dir>/transfer_url_secret``
(mode 0600, made on first use). Api replicas on one node share the file; replicas on several
nodes need the setting.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

from compox_ray.errors import CompoxError
from compox_ray.settings import Settings

SECRET_FILE = "transfer_url_secret"


def _secret_from_file(path: Path) -> bytes:
    """The secret in ``path``, made there first if there is none (atomically: a concurrent replica
    reads the one that won, never a half-written file)."""
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    descriptor = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(secrets.token_hex(32))
    try:
        os.link(staged, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(staged)
    return bytes.fromhex(path.read_text().strip())


class UrlSigner:
    def __init__(self, secret: bytes, expiry_s: int):
        self._secret = secret
        self.expiry_s = expiry_s

    @classmethod
    def for_settings(cls, settings: Settings) -> UrlSigner:
        configured = settings.transfer_url_secret
        secret = configured.encode() if configured else _secret_from_file(settings.data_dir / SECRET_FILE)
        return cls(secret, settings.transfer_url_expiry_s)

    def _signature(self, method: str, name: str, expires: int) -> str:
        message = f"{method}\n{name}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def query(self, method: str, name: str) -> dict[str, str]:
        """The query parameters that authorise ``method`` on ``name`` until the expiry."""
        expires = int(time.time()) + self.expiry_s
        return {"expires": str(expires), "signature": self._signature(method, name, expires)}

    def verify(self, method: str, name: str, expires: str | None, signature: str | None) -> None:
        """CompoxError 403 unless the parameters were made by ``query`` for this method and name
        and have not expired."""
        if not expires or not signature or not expires.isascii() or not expires.isdigit() or len(expires) > 12:
            raise CompoxError(403, "invalid_signature", "This URL is not signed for this object.")
        expected = self._signature(method, name, int(expires))
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            raise CompoxError(403, "invalid_signature", "This URL is not signed for this object and method.")
        if int(expires) < time.time():
            raise CompoxError(403, "url_expired", "This URL has expired; ask for a new one.")
