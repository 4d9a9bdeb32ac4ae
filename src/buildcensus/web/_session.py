"""Dashboard sessions: a random id in an HttpOnly cookie, mapped in memory to the token.

The cookie carries only the session id (256 random bits), never the token. Every request
checks the token against the token store again, so `buildcensus token revoke` ends existing
sessions at once. Sessions live in the server process: a restart asks users to log in again.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

COOKIE = "buildcensus_session"
LIFETIME = 12 * 3600  # seconds
MAX_SESSIONS = 10_000


@dataclass
class Session:
    """One logged-in browser."""

    token: str
    expires: float


class SessionStore:
    """Session id -> token, with expiry; bounded so a login flood cannot exhaust memory."""

    def __init__(self, lifetime: float = LIFETIME, clock=time.monotonic) -> None:
        self.lifetime = lifetime
        self._clock = clock
        self._items: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, token: str) -> str:
        """A new session for `token`; returns its id."""
        sid = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            if len(self._items) >= MAX_SESSIONS:
                self._purge(now)
                while len(self._items) >= MAX_SESSIONS:  # drop the oldest
                    self._items.pop(next(iter(self._items)))
            self._items[sid] = Session(token, now + self.lifetime)
        return sid

    def token(self, sid: str | None) -> str | None:
        """The token of a live session, or None."""
        if not sid:
            return None
        with self._lock:
            s = self._items.get(sid)
            if s is None:
                return None
            if s.expires <= self._clock():
                del self._items[sid]
                return None
            return s.token

    def delete(self, sid: str | None) -> None:
        """End a session (logout)."""
        if sid:
            with self._lock:
                self._items.pop(sid, None)

    def _purge(self, now: float) -> None:
        for sid in [k for k, s in self._items.items() if s.expires <= now]:
            del self._items[sid]
