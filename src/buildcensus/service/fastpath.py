"""The common case of `POST /api/v1/builds`, answered before FastAPI's routing.

Nearly every request a builder sends is one valid record with a valid write token. For those,
FastAPI's middleware, routing, dependency solving and request objects cost more CPU than
validating and storing the record. `FastIngest`, in front of the FastAPI app (`ServiceApp`),
answers them itself with what the route would answer (the
same `Ingestor` calls, the same response), and hands everything else to the app unchanged:
another path or method, a missing or wrong token, another content type, an unusual body, a
record that does not validate or is refused. A request it has begun reading is handed on with
its body replayed, so the route answers it, and counts it, exactly as it always does; nothing
has been written for it at that point. tests/service/test_fastpath.py checks that answers are
the same with and without it.
"""

from __future__ import annotations

import logging
import time

from fastapi.security.utils import get_authorization_scheme_param
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from buildcensus.service.auth import TokenStore
from buildcensus.service.http_errors import ApiError
from buildcensus.service.ingest import INLINE_MAX_BYTES, Ingestor
from buildcensus.service.limits import JSON_TYPES
from buildcensus.service.metrics import Metrics

log = logging.getLogger("buildcensus.service")

PATH = "/api/v1/builds"


class FastIngest:
    """The happy path of `POST /api/v1/builds` (see the module), in front of `app`: an ASGI
    app for every other request, and for the requests it hands on."""

    def __init__(
        self, app: ASGIApp, ingestor: Ingestor, tokens: TokenStore, metrics: Metrics
    ) -> None:
        self.app = app
        self.ingestor = ingestor
        self.tokens = tokens
        self.metrics = metrics  # what it answers it counts, as the metrics middleware would
        self.max_bytes = min(INLINE_MAX_BYTES, ingestor.limits.max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        if (
            scope["type"] != "http"
            or scope["path"] != PATH
            or scope["method"] != "POST"
            or scope.get("root_path")
            or not self.ingestor.inline
            or not self._acceptable(scope["headers"])
        ):
            await self.app(scope, receive, send)
            return
        received: list[Message] = []
        try:
            body = await self._body(receive, received)
            outcome = None if body is None else await self.ingestor.ingest_fast(body)
        except Exception as exc:  # noqa: BLE001 - what the app's handler of 500s does
            log.error("internal error on POST %s", PATH, exc_info=exc)
            response = ApiError(500, "internal", "internal server error").response()
        else:
            if outcome is None:  # the route answers, from the start
                await self.app(scope, _replay(received, receive), send)
                return
            response = outcome.response()
        await response(scope, receive, send)
        self.metrics.observe_request(
            "POST", PATH, response.status_code, time.perf_counter() - start
        )

    def _acceptable(self, headers: list[tuple[bytes, bytes]]) -> bool:
        """True for a JSON body of a known length within the limit, with a write token."""
        auth = ctype = length = None
        for name, value in headers:  # the first of each, as Starlette's `headers.get`
            if name == b"authorization":
                auth = auth if auth is not None else value
            elif name == b"content-type":
                ctype = ctype if ctype is not None else value
            elif name == b"content-length":
                length = length if length is not None else value
        if auth is None or ctype is None or length is None:
            return False
        if not length.isdigit() or int(length) > self.max_bytes:
            return False
        mt = ctype.decode("latin-1").split(";", 1)[0].strip().lower()
        if mt not in JSON_TYPES:
            return False
        scheme, token = get_authorization_scheme_param(auth.decode("latin-1"))
        if scheme.lower() != "bearer" or not token:
            return False
        scopes = self.tokens.scopes_of(token)
        return scopes is not None and "write" in scopes

    async def _body(self, receive: Receive, received: list[Message]) -> bytes | None:
        """The whole body, or None when it is not a plain one within the limit (every
        message read is kept in `received`, for the route)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            received.append(message)
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _replay(received: list[Message], receive: Receive) -> Receive:
    """`receive` that first returns the messages already read."""
    pending = list(received)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
