"""Dashboard sessions: random ids, expiry, logout."""

from __future__ import annotations

from buildcensus.web._session import SessionStore


def test_sessions_expire_and_end() -> None:
    t = [100.0]
    store = SessionStore(lifetime=60, clock=lambda: t[0])
    a, b = store.create("tok-a"), store.create("tok-b")
    assert a != b and len(a) >= 40 and "tok" not in a
    assert (store.token(a), store.token(b)) == ("tok-a", "tok-b")
    assert store.token("nope") is None and store.token(None) is None
    store.delete(a)
    assert store.token(a) is None
    t[0] += 61
    assert store.token(b) is None
