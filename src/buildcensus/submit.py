"""The builder-side client: post records to the ingest service, retrying until they are safe.

Storing is idempotent by build id, so resending a batch after a timeout or a dropped
connection never stores a record twice: records that did land come back as `duplicate`.
Transport errors, 408/429/5xx are retried with exponential backoff and full jitter (and at
least `Retry-After`); a batch the server finds too large (413) is split in halves.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import httpx
import orjson

from buildcensus import __version__
from buildcensus.errors import SubmitError, UsageError

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
BATCH_PATH = "/api/v1/builds/batch"


@dataclass(frozen=True)
class ParseFailure:
    """An input item that is not JSON; it is reported, never sent."""

    message: str


@dataclass(frozen=True)
class ItemResult:
    """What the service did with one input record."""

    label: str
    status: str  # stored | duplicate | rejected
    key: str | None = None
    message: str | None = None

    def line(self) -> str:
        """One output line, as `buildcensus store` prints it."""
        if self.status == "rejected":
            return f"rejected {self.label}: {self.message}"
        return f"{self.status} {self.key}"


def read_records(stream: BinaryIO, name: str) -> list[tuple[str, Any]]:
    """(label, value or ParseFailure) for a JSON object, a JSON array or NDJSON."""
    data = stream.read()
    stripped = data.strip()
    first = stripped.split(b"\n", 1)[0].strip()
    if stripped.startswith(b"{") and first.endswith(b"}") and b"\n" in stripped:
        return [
            (f"{name}:{n}", _loads(line))
            for n, line in enumerate(data.splitlines(), 1)
            if line.strip()
        ]
    value = _loads(stripped)
    if isinstance(value, list):
        return [(f"{name}[{i}]", item) for i, item in enumerate(value)]
    return [(name, value)]


def _loads(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return ParseFailure(f"malformed JSON: {exc}")


def backoff_delay(attempt: int, base: float, cap: float, rand: Callable[[], float]) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2**attempt)]."""
    return rand() * min(cap, base * 2**attempt)


def _retry_after(resp: httpx.Response) -> float:
    value = resp.headers.get("retry-after", "")
    return float(value) if value.replace(".", "", 1).isdigit() else 0.0


def service_base(url: str) -> str:
    """The service root for a URL given as the root or as one of the builds endpoints."""
    base = url.rstrip("/")
    for suffix in (BATCH_PATH, "/api/v1/builds"):
        base = base.removesuffix(suffix)
    return base


class Submitter:
    """Posts records in batches to `POST /api/v1/builds/batch`."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        batch_size: int = 100,
        max_attempts: int = 8,
        base_delay: float = 0.25,
        max_delay: float = 15.0,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if batch_size < 1 or max_attempts < 1:
            raise UsageError("batch size and attempts must be at least 1")
        self.endpoint = service_base(url) + BATCH_PATH
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.base_delay, self.max_delay = base_delay, max_delay
        self.sleep, self.rand = sleep, rand
        self.client = httpx.Client(
            timeout=timeout,
            transport=transport,
            headers={
                "authorization": f"Bearer {token}",
                "content-type": "application/json",
                "user-agent": f"buildcensus-submit/{__version__}",
            },
        )

    def __enter__(self) -> Submitter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()

    def submit(self, items: Iterable[tuple[str, Any]]) -> Iterator[ItemResult]:
        """Send every item; yield one result per item, in input order."""
        batch: list[tuple[str, Any]] = []
        for label, value in items:
            if isinstance(value, ParseFailure):
                yield from self._send(batch)
                batch = []
                yield ItemResult(label, "rejected", message=value.message)
                continue
            batch.append((label, value))
            if len(batch) >= self.batch_size:
                yield from self._send(batch)
                batch = []
        yield from self._send(batch)

    def _send(self, batch: list[tuple[str, Any]]) -> list[ItemResult]:
        if not batch:
            return []
        resp = self._post(orjson.dumps([value for _, value in batch]))
        if resp.status_code == 413 and len(batch) > 1:
            half = len(batch) // 2
            return self._send(batch[:half]) + self._send(batch[half:])
        body = _json(resp)
        if resp.status_code != 200 or not isinstance(body.get("results"), list):
            message = _error_text(body, resp)
            return [ItemResult(label, "rejected", message=message) for label, _ in batch]
        if len(body["results"]) != len(batch):
            raise SubmitError(
                f"the service sent {len(body['results'])} results for {len(batch)} records"
            )
        return [_item(label, r) for (label, _), r in zip(batch, body["results"], strict=True)]

    def _post(self, content: bytes) -> httpx.Response:
        """POST with retries; raises SubmitError when every attempt failed."""
        problem = ""
        for attempt in range(self.max_attempts):
            wait = 0.0
            try:
                resp = self.client.post(self.endpoint, content=content)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if resp.status_code in (401, 403):
                    raise UsageError(
                        f"the service refused the token: {_error_text(_json(resp), resp)}"
                    )
                if resp.status_code not in RETRY_STATUSES:
                    return resp
                problem, wait = f"HTTP {resp.status_code}", _retry_after(resp)
            if attempt + 1 < self.max_attempts:
                delay = backoff_delay(attempt, self.base_delay, self.max_delay, self.rand)
                self.sleep(min(self.max_delay, max(wait, delay)))
        raise SubmitError(f"gave up after {self.max_attempts} attempts: {problem}")


def _json(resp: httpx.Response) -> dict[str, Any]:
    try:
        value = resp.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _error_text(body: dict[str, Any], resp: httpx.Response) -> str:
    err = body.get("error") if isinstance(body.get("error"), dict) else None
    if err is None:
        return f"HTTP {resp.status_code}"
    path = err.get("path")
    return f"{path}: {err.get('message')}" if path else str(err.get("message"))


def _item(label: str, result: dict[str, Any]) -> ItemResult:
    status = result.get("status")
    if status in ("stored", "duplicate"):
        return ItemResult(label, status, key=result.get("key"))
    err = result.get("error") or {}
    path, message = err.get("path"), err.get("message", "rejected")
    return ItemResult(label, "rejected", message=f"{path}: {message}" if path else message)
