"""API keys for the write routes: stored hashed, compared in constant time.

A key looks like ``lk_<key_id>_<secret>``: ``key_id`` (8 hex digits) finds the record,
``secret`` (43 URL-safe characters, 256 random bits) is what proves possession. The key
file (JSON, default ``api_keys.json`` in the artifact directory, mode 0600) stores for each
key its id, name, creation time, a random 16-byte salt and ``sha256(salt || secret)``; the
plaintext is printed once by ``locator keys create`` and never stored. A fast salted hash is
enough because the secret has 256 bits of entropy (nothing to brute-force, unlike a
password); digests are compared with :func:`hmac.compare_digest`.

The server re-reads the file when it changes (modification time, size or inode), so
keys created or revoked by the operator (``locator keys create|list|revoke``) take effect
without a restart. Writes are atomic: the new file is written to a private temporary file
in the same directory, flushed and renamed over the old one, under an exclusive lock so
two operators cannot lose each other's change. If the file becomes unreadable (edited by
hand and left invalid), the server keeps the last key set it could read and logs the
problem; with no good set ever read it answers 503 ``keys_unavailable``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import tempfile
import threading
from collections.abc import Iterator
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


class KeysUnavailableError(RuntimeError):
    """The key file exists but no valid key set could ever be read from it."""


def _parse(text: str) -> dict[str, KeyRecord]:
    """Key records from the file's text (ValueError/KeyError/TypeError when malformed)."""
    data = json.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("keys", []), list):
        raise ValueError("not a key file (expected an object with a 'keys' list)")
    records = {}
    for raw in data.get("keys", []):
        record = KeyRecord(**raw)
        bytes.fromhex(record.salt_hex)
        bytes.fromhex(record.sha256_hex)
        records[record.key_id] = record
    return records


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
        self._signature: tuple[int, int, int] | None = None
        self._records: dict[str, KeyRecord] | None = None  # None: no good set read yet
        self._problem: str | None = None

    def _load(self) -> dict[str, KeyRecord]:
        """The current key set; the last good one while the file cannot be read.

        Raises
        ------
        KeysUnavailableError
            If the file exists but no good key set was ever read from it.
        """
        try:
            st = self.path.stat()
        except FileNotFoundError:
            with self._lock:
                self._signature, self._records, self._problem = None, {}, None
            return {}
        signature = (st.st_mtime_ns, st.st_size, st.st_ino)
        with self._lock:
            if signature != self._signature:
                self._signature = signature
                try:
                    self._records = _parse(self.path.read_text("utf-8"))
                    self._problem = None
                except (OSError, ValueError, KeyError, TypeError) as exc:
                    self._problem = f"{self.path}: {type(exc).__name__}: {exc}"
                    log.error(
                        "cannot read the API key file (%s); %s",
                        self._problem,
                        "keeping the last good key set"
                        if self._records is not None
                        else "refusing keyed requests until it is fixed",
                    )
            if self._records is None:
                raise KeysUnavailableError(self._problem or str(self.path))
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
        with self._exclusive():
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

    def revoke(self, key_id: str) -> KeyRecord | None:
        """Remove a key by its id; return the removed record (``None`` if there was none)."""
        with self._exclusive():
            records = dict(self._load())
            removed = records.pop(key_id, None)
            if removed is not None:
                self._write(records)
                log.info("revoked API key %s (%s)", key_id, removed.name)
            return removed

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Hold the key file's write lock (a sibling ``.lock`` file) across processes."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with self._lock:  # the next _load re-reads whatever is there now
                self._signature = None
            yield
        finally:
            os.close(fd)  # releases the lock

    def _write(self, records: dict[str, KeyRecord]) -> None:
        """Replace the file atomically; it is owner-only however it was before."""
        payload: dict[str, Any] = {
            "format": 1,
            "hash": "sha256(salt || secret)",
            "keys": [r.__dict__ for r in sorted(records.values(), key=lambda r: r.key_id)],
        }
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".api_keys.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:  # mkstemp: mode 0600
                json.dump(payload, f, indent=2)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

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
    try:
        record = store.verify(key.strip())
    except KeysUnavailableError as exc:
        raise ApiError(
            503,
            "keys_unavailable",
            "the server cannot read its API key file; the operator has been told in the log",
            headers={"Retry-After": "30"},
        ) from exc
    if record is None:
        raise ApiError(403, "api_key_invalid", "the API key is not valid")
    return record
