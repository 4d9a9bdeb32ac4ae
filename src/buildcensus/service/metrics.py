"""Prometheus metrics in the text exposition format (no client library needed).

Exported: `buildcensus_http_requests_total{method,route,status}`,
`buildcensus_http_request_latency_seconds{route}` (a histogram),
`buildcensus_records_stored_total`, `buildcensus_records_duplicates_total` and
`buildcensus_records_rejected_total{code}`.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import defaultdict
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """Counters and a latency histogram; safe to update from the threadpool."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self.latency: dict[str, list[float]] = {}  # route -> bucket counts + [sum, count]
        self.stored = 0
        self.duplicates = 0
        self.rejected: dict[str, int] = defaultdict(int)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one HTTP request and its latency."""
        with self._lock:
            self.requests[(method, route, str(status))] += 1
            h = self.latency.get(route)
            if h is None:
                h = self.latency[route] = [0.0] * (len(BUCKETS) + 3)  # +Inf, sum, count
            h[bisect.bisect_left(BUCKETS, seconds)] += 1
            h[-2] += seconds
            h[-1] += 1

    def record(self, status: str, code: str | None = None) -> None:
        """Count one record outcome: stored, duplicate or rejected (with its error code)."""
        with self._lock:
            if status == "stored":
                self.stored += 1
            elif status == "duplicate":
                self.duplicates += 1
            else:
                self.rejected[code or "unknown"] += 1

    def render(self) -> str:
        """The Prometheus text format."""
        with self._lock:
            return "".join(self._lines())

    def _lines(self) -> Any:
        yield "# HELP buildcensus_http_requests_total HTTP requests by route and status.\n"
        yield "# TYPE buildcensus_http_requests_total counter\n"
        for (method, route, status), n in sorted(self.requests.items()):
            labels = f'method="{method}",route="{_esc(route)}",status="{status}"'
            yield f"buildcensus_http_requests_total{{{labels}}} {n}\n"
        yield "# HELP buildcensus_http_request_latency_seconds Request latency by route.\n"
        yield "# TYPE buildcensus_http_request_latency_seconds histogram\n"
        name = "buildcensus_http_request_latency_seconds"
        for route, h in sorted(self.latency.items()):
            r = _esc(route)
            cumulative = 0.0
            for le, n in zip((*map(str, BUCKETS), "+Inf"), h[:-2], strict=True):
                cumulative += n
                yield f'{name}_bucket{{route="{r}",le="{le}"}} {int(cumulative)}\n'
            yield f'{name}_sum{{route="{r}"}} {h[-2]:.6f}\n'
            yield f'{name}_count{{route="{r}"}} {int(h[-1])}\n'
        yield "# HELP buildcensus_records_stored_total Records newly stored in the lake.\n"
        yield "# TYPE buildcensus_records_stored_total counter\n"
        yield f"buildcensus_records_stored_total {self.stored}\n"
        yield "# HELP buildcensus_records_duplicates_total Records already in the lake.\n"
        yield "# TYPE buildcensus_records_duplicates_total counter\n"
        yield f"buildcensus_records_duplicates_total {self.duplicates}\n"
        yield "# HELP buildcensus_records_rejected_total Records refused, by error code.\n"
        yield "# TYPE buildcensus_records_rejected_total counter\n"
        for code, n in sorted(self.rejected.items()):
            yield f'buildcensus_records_rejected_total{{code="{_esc(code)}"}} {n}\n'


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class MetricsMiddleware:
    """Pure ASGI middleware timing every HTTP request, labelled by route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.observe_request(
                scope["method"], route, status, time.perf_counter() - start
            )
