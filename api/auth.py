"""API keys for the write routes: stored hashed, compared in constant time.

A key looks like ``lk_<key_id>_<secret>``: ``key_id`` (8 hex digits) finds the record,
``secret`` (43 URL-safe characters, 256 random bits) is what proves possession. The key
file (JSON, default ``api_keys.json`` in the artifact directory, mode 0600) stores for each
key its id, name, creation time, a random 16-byte salt and ``sha256(salt || secret)``; the
plaintext is printed once by ``locator keys create`` and never stored. A fast salted hash is
enough because the secret has 256 bits of entropy (nothing to brute-force, unlike a
password); digests are compared with :func:`hmac.compare_digest`.

The server re-reads the file when its modification time changes, so keys created or
removed by the operator take effect without a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Request, Security
from fastapi.security import APIKeyHeader

from api.problems import ApiError

log = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-Key"
_KEY_RE = re.compile(r"^lk_([0-9a-f]{8})_([A-Za-z0-9_-]{20,100})$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$")

#: OpenAPI security scheme (documentation only: :func:`require_api_key` does the check).
api_key_scheme = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False, description="API key created with `locator keys create`"
)


@dataclass(frozen=True)
class KeyRecord:
    """One stored key (no secret)."""

    key_id: str
    name: str
    created_at: str
    salt_hex: str
    sha256_hex: str

    def public(self) -> dict[str, str]:
        """Fields safe to show (no salt or hash)."""
        return {"key_id": self.key_id, "name": self.name, "created_at": self.created_at}


def _digest(salt: bytes, secret: str) -> bytes:
    return hashlib.sha256(salt + secret.encode("ascii")).digest()


class KeyStore:
    """The key file.

    Parameters
    ----------
    path
        JSON file; created by :meth:`create` if missing.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._records: dict[str, KeyRecord] = {}

    def _load(self) -> dict[str, KeyRecord]:
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            self._mtime, self._records = None, {}
            return self._records
        with self._lock:
            if mtime != self._mtime:
                data = json.loads(self.path.read_text("utf-8"))
                self._records = {r["key_id"]: KeyRecord(**r) for r in data.get("keys", [])}
                self._mtime = mtime
            return self._records

    def records(self) -> list[KeyRecord]:
        """All keys, oldest first."""
        return sorted(self._load().values(), key=lambda r: (r.created_at, r.key_id))

    def create(self, name: str) -> str:
        """Add a key named ``name``; return the plaintext key (shown once, never stored).

        Raises
        ------
        ValueError
            If the name is empty or unusual (1-64 letters, digits, space, ``._@-``).
        """
        if not _NAME_RE.match(name):
            raise ValueError("key name must be 1-64 characters: letters, digits, space, ._@-")
        records = dict(self._load())
        key_id = secrets.token_hex(4)
        while key_id in records:
            key_id = secrets.token_hex(4)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        records[key_id] = KeyRecord(
            key_id=key_id,
            name=name,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            salt_hex=salt.hex(),
            sha256_hex=_digest(salt, secret).hex(),
        )
        self._write(records)
        log.info("created API key %s (%s)", key_id, name)
        return f"lk_{key_id}_{secret}"

    def revoke(self, key_id: str) -> bool:
        """Remove a key; return whether it existed."""
        records = dict(self._load())
        if records.pop(key_id, None) is None:
            return False
        self._write(records)
        return True

    def _write(self, records: dict[str, KeyRecord]) -> None:
        payload: dict[str, Any] = {
            "format": 1,
            "hash": "sha256(salt || secret)",
            "keys": [r.__dict__ for r in sorted(records.values(), key=lambda r: r.key_id)],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=2)
        os.replace(tmp, self.path)

    def verify(self, key: str) -> KeyRecord | None:
        """The record of a valid key, else ``None`` (constant-time digest comparison)."""
        match = _KEY_RE.match(key)
        records = self._load()
        if match is None:
            return None
        key_id, secret = match.groups()
        record = records.get(key_id)
        if record is None:
            # spend the same work as a real check so timing does not reveal ids
            hmac.compare_digest(_digest(b"\0" * 16, secret), b"\0" * 32)
            return None
        expected = bytes.fromhex(record.sha256_hex)
        if hmac.compare_digest(_digest(bytes.fromhex(record.salt_hex), secret), expected):
            return record
        return None


def require_api_key(
    request: Request, key: Annotated[str | None, Security(api_key_scheme)] = None
) -> KeyRecord:
    """FastAPI dependency: the caller's key record, or 401 (missing) / 403 (wrong)."""
    if not key:
        raise ApiError(
            401,
            "api_key_missing",
            f"this route needs an API key in the {API_KEY_HEADER} header",
            headers={"WWW-Authenticate": f'ApiKey header="{API_KEY_HEADER}"'},
        )
    store: KeyStore = request.app.state.keys
    record = store.verify(key.strip())
    if record is None:
        raise ApiError(403, "api_key_invalid", "the API key is not valid")
    return record
