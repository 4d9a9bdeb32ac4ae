"""The common cases of `POST /api/v1/builds` and `/batch`, answered before FastAPI.

Nearly every request a builder sends is one valid record (or a small batch: `buildcensus
submit` posts a build's record as a batch of one) with a valid write token. For those,
FastAPI's middleware, routing, dependency solving and request objects cost more CPU than
validating and storing the record. `FastIngest`, in front of the FastAPI app (`ServiceApp`),
answers them itself with what the route would answer (the same `Ingestor` calls, the same
response), and hands everything else to the app unchanged: another path or method, a missing
or wrong token, another content type, an unusual or large body, a record that does not
validate or is refused (a batch's items are answered one by one, as by the route). A request
it has begun reading is handed on with its body replayed, so the route answers it, and counts
it, exactly as it always does; nothing has been written for it at that point.
tests/service/test_fastpath.py checks that answers are the same with and without it.
"""

from __future__ import annotations

import logging
import time

from fastapi.security.utils import get_authorization_scheme_param
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from buildcensus.service.auth import TokenStore
from buildcensus.service.http_errors import ApiError
from buildcensus.service.ingest import INLINE_MAX_BYTES, Ingestor, batch_answer
from buildcensus.service.limits import JSON_TYPES
from buildcensus.service.metrics import Metrics

log = logging.getLogger("buildcensus.service")

PATH = "/api/v1/builds"
BATCH_PATH = "/api/v1/builds/batch"


class FastIngest:
    """The happy path of `POST /api/v1/builds` and `/batch` (see the module), in front of
    `app`: an ASGI app for every other request, and for the requests it hands on."""

    def __init__(
        self, app: ASGIApp, ingestor: Ingestor, tokens: TokenStore, metrics: Metrics
    ) -> None:
        self.app = app
        self.ingestor = ingestor
        self.tokens = tokens
        self.metrics = metrics  # what it answers it counts, as the metrics middleware would
        limits = ingestor.limits
        # The most a body may have here, by path: the route takes larger ones.
        self.max_bytes = {
            PATH: min(INLINE_MAX_BYTES, limits.max_body_bytes),
            BATCH_PATH: min(INLINE_MAX_BYTES, limits.max_batch_bytes),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        path = scope["path"] if scope["type"] == "http" else None
        limit = self.max_bytes.get(path) if path is not None else None
        if (
            limit is None
            or scope["method"] != "POST"
            or scope.get("root_path")
            or not self.ingestor.inline
            or not self._acceptable(scope["headers"], limit)
        ):
            await self.app(scope, receive, send)
            return
        received: list[Message] = []
        try:
            body = await self._body(receive, received, limit)
            response = None if body is None else await self._answer(path, body)
        except Exception as exc:  # noqa: BLE001 - what the app's handler of 500s does
            log.error("internal error on POST %s", path, exc_info=exc)
            response = ApiError(500, "internal", "internal server error").response()
        if response is None:  # the route answers, from the start
            await self.app(scope, _replay(received, receive), send)
            return
        await response(scope, receive, send)
        self.metrics.observe_request(
            "POST", path, response.status_code, time.perf_counter() - start
        )

    async def _answer(self, path: str, body: bytes) -> Response | None:
        """The route's answer, or None when the route has to give it."""
        if path == PATH:
            outcome = await self.ingestor.ingest_fast(body)
            return None if outcome is None else outcome.response()
        outcomes = await self.ingestor.ingest_batch_fast(body)
        return None if outcomes is None else batch_answer(outcomes)

    def _acceptable(self, headers: list[tuple[bytes, bytes]], limit: int) -> bool:
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
        if not length.isdigit() or int(length) > limit:
            return False
        mt = ctype.decode("latin-1").split(";", 1)[0].strip().lower()
        if mt not in JSON_TYPES:
            return False
        scheme, token = get_authorization_scheme_param(auth.decode("latin-1"))
        if scheme.lower() != "bearer" or not token:
            return False
        scopes = self.tokens.scopes_of(token)
        return scopes is not None and "write" in scopes

    async def _body(self, receive: Receive, received: list[Message], limit: int) -> bytes | None:
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
            if size > limit:
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
