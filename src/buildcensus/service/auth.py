"""Bearer tokens: a file of token hashes, scopes, and the `require_scope` dependency.

The tokens file is JSON, `{"version": 1, "tokens": [{"name", "scopes", "hash", "created"}]}`.
A token is 256 random bits (`bct_` + URL-safe base64) and is printed once by
`buildcensus token create`; only its SHA-256 is kept (a fast hash suffices for high-entropy
secrets). Scopes are independent: `write` posts records, `read` reads reports and raw data;
write does NOT imply read, so a builder's token cannot read other projects' records.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import tempfile
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.security import HTTPBearer

from buildcensus.errors import UsageError
from buildcensus.service.http_errors import ApiError

log = logging.getLogger("buildcensus.service")

SCOPES = ("read", "write")
TOKEN_PREFIX = "bct_"
# The dashboard's login page may keep a read token in this cookie; it is never enough to write
# (a cookie rides along on cross-site requests, a header does not).
TOKEN_COOKIE = "buildcensus_token"


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def _read_file(path: Path) -> list[dict[str, Any]]:
    """The token entries of a tokens file ([] when it does not exist)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read tokens file {path}: {exc}") from None
    tokens = data.get("tokens") if isinstance(data, dict) else None
    if not isinstance(tokens, list) or not all(
        isinstance(t, dict) and isinstance(t.get("hash"), str) and isinstance(t.get("scopes"), list)
        for t in tokens
    ):
        raise UsageError(f"tokens file {path} is not a buildcensus tokens file")
    return tokens


def _write_file(path: Path, tokens: list[dict[str, Any]]) -> None:
    """Replace the tokens file atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"version": 1, "tokens": tokens}, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def create_token(path: Path, name: str, scopes: list[str], now: datetime | None = None) -> str:
    """Add a token named `name` with `scopes` to the file; return the token (shown only once)."""
    bad = [s for s in scopes if s not in SCOPES]
    if not scopes or bad:
        raise UsageError(f"scope must be one of {', '.join(SCOPES)}, not {bad or scopes!r}")
    if not name.strip():
        raise UsageError("a token needs a non-empty NAME")
    tokens = _read_file(path)
    if any(t.get("name") == name for t in tokens):
        raise UsageError(f"a token named {name!r} already exists in {path}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    created = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    entry = {"name": name, "scopes": sorted(set(scopes)), "hash": hash_token(token)}
    tokens.append({**entry, "created": created})
    _write_file(path, tokens)
    return token


def list_tokens(path: Path) -> list[dict[str, Any]]:
    """Name, scopes and creation time of every token (never the hash)."""
    return [
        {"name": t.get("name"), "scopes": t["scopes"], "created": t.get("created")}
        for t in _read_file(path)
    ]


def revoke_token(path: Path, name: str) -> bool:
    """Remove the token named `name`; True when it existed."""
    tokens = _read_file(path)
    kept = [t for t in tokens if t.get("name") != name]
    if len(kept) != len(tokens):
        _write_file(path, kept)
    return len(kept) != len(tokens)


class TokenStore:
    """The valid tokens, re-read when the file changes (so `token create` needs no restart)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._entries: list[tuple[bytes, frozenset[str]]] = []
        self._stamp: tuple[int, int] | None = None
        self._lock = threading.Lock()
        if path is not None:
            self._entries = self._load(_read_file(path))  # a broken file fails at start-up

    @staticmethod
    def _load(tokens: list[dict[str, Any]]) -> list[tuple[bytes, frozenset[str]]]:
        return [(t["hash"].encode(), frozenset(map(str, t["scopes"]))) for t in tokens]

    def _refresh(self) -> None:
        assert self.path is not None
        try:
            st = self.path.stat()
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp == self._stamp:
            return
        with self._lock:
            try:
                self._entries = self._load(_read_file(self.path))
                self._stamp = stamp
            except UsageError as exc:  # keep serving with the last good tokens
                log.error("%s", exc)

    def scopes_of(self, token: str) -> frozenset[str] | None:
        """The scopes of a valid token, or None. Compares every entry in constant time."""
        if self.path is None:
            return None
        self._refresh()
        digest = hash_token(token).encode()
        found: frozenset[str] | None = None
        for stored, scopes in self._entries:
            if hmac.compare_digest(stored, digest):
                found = scopes
        return found


_BEARER_DESCRIPTION = "A token from `buildcensus token create`."


class _ScopeBearer(HTTPBearer):
    """The bearer-token security scheme (in OpenAPI exactly FastAPI's `HTTPBearer`) that also
    checks the token and its scope: one dependency per request, not one inside another."""

    def __init__(self, scope: str) -> None:
        super().__init__(
            auto_error=False, description=_BEARER_DESCRIPTION, scheme_name="HTTPBearer"
        )
        self.scope = scope
        self.__name__ = f"require_{scope}_scope"

    async def __call__(self, request: Request) -> frozenset[str]:  # type: ignore[override]
        credentials = await super().__call__(request)
        token = credentials.credentials if credentials else None
        if token is None and self.scope == "read":
            token = request.cookies.get(TOKEN_COOKIE)
        if not token:
            raise ApiError(
                401,
                "unauthorized",
                "a bearer token is required (Authorization: Bearer <token>)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        scopes = request.app.state.tokens.scopes_of(token)
        if scopes is None:
            raise ApiError(
                401, "unauthorized", "invalid token", headers={"WWW-Authenticate": "Bearer"}
            )
        if self.scope not in scopes:
            have = ", ".join(sorted(scopes)) or "none"
            raise ApiError(
                403, "forbidden", f"this token's scope is {have}; {self.scope} is needed"
            )
        return scopes


def require_scope(scope: str) -> Callable[..., Awaitable[frozenset[str]]]:
    """A FastAPI dependency: 401 without a valid token, 403 when it lacks `scope`."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")
    return _ScopeBearer(scope)
