"""Request limits: content type, body size, JSON syntax, nesting depth, string/list lengths.

Each check raises `ApiError` with the status the API promises: 415, 413, 400, 422 (with the
dotted field path, the same notation `RecordError.path` uses).
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from starlette.requests import Request

from buildcensus.service.http_errors import ApiError
from buildcensus.service.settings import Limits

JSON_TYPES = ("application/json",)
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")


def media_type(request: Request, allowed: tuple[str, ...]) -> str:
    """The request's media type if it is one of `allowed`, else 415."""
    raw = request.headers.get("content-type", "")
    mt = raw.split(";", 1)[0].strip().lower()
    if mt in allowed:
        return mt
    shown = repr(raw) if raw else "none"
    raise ApiError(
        415, "unsupported_media_type", f"content type {shown}; use {' or '.join(allowed)}"
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) more than `limit` bytes before reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):  # "²" is a digit to str.isdigit
            raise ApiError(400, "bad_request", "invalid Content-Length header")
        if int(declared) > limit:
            raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "payload_too_large", f"request body larger than {limit} bytes")


def decode_json(body: bytes, limits: Limits) -> Any:
    """Parse JSON (400 when malformed, 422 when nested too deep)."""
    if not body.strip():
        raise ApiError(400, "malformed_json", "empty body; expected JSON")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "depth" in str(exc).lower():  # orjson stops at 1024 levels; name where we stopped
            deep = deep_path(body, limits.max_depth)
            raise ApiError(
                422,
                "too_deep",
                f"nested deeper than {limits.max_depth} levels",
                deep,
            ) from None
        raise ApiError(400, "malformed_json", f"malformed JSON: {exc}") from None


_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{},:]')


def deep_path(text: bytes, max_depth: int) -> str | None:
    """The dotted path where `text` nests deeper than `max_depth` (a scan, no recursion)."""
    stack: list[list[Any]] = []  # per open container: [is_object, key or index]
    last_string = ""
    for m in _TOKEN.finditer(text):
        tok = m.group()
        if tok in (b"{", b"["):
            stack.append([tok == b"{", "" if tok == b"{" else 0])
            if len(stack) > max_depth:
                return ".".join(str(s[1]) for s in stack[:-1])
        elif tok in (b"}", b"]"):
            if stack:
                stack.pop()
        elif tok == b",":
            if stack and not stack[-1][0]:
                stack[-1][1] += 1
        elif tok == b":":
            if stack:
                stack[-1][1] = last_string
        else:
            try:
                last_string = orjson.loads(tok)
            except orjson.JSONDecodeError:
                last_string = tok[1:-1].decode(errors="replace")
    return None


def check_shape(value: Any, limits: Limits, size: int | None = None) -> None:
    """422 naming the first path nested too deep or holding too long a string or list.

    `size` is the length in bytes of the JSON text `value` came from (or an upper bound).
    A string needs at least as many bytes as characters and a list of n items at least
    2n + 1 bytes, so when the text is short enough only the depth can be exceeded and a
    cheaper walk over the containers suffices.
    """
    if size is not None and lengths_fit(size, limits):
        if depth_within(value, limits.max_depth):
            return
    elif _within(value, limits):
        return
    code, message, where = _first_violation(value, limits)
    raise ApiError(422, code, message, where)


def lengths_fit(size: int, limits: Limits) -> bool:
    """True when no string or list in `size` bytes of JSON can exceed the length limits."""
    return size <= limits.max_string_length and size < 2 * limits.max_list_length + 3


def depth_within(value: Any, max_depth: int) -> bool:
    """True when `value` nests at most `max_depth` containers deep (breadth first, no paths)."""
    level = [value]
    depth = 1
    while level:
        nested: list[Any] = []
        add = nested.append
        for v in level:
            kind = type(v)
            if kind is dict:
                items = v.values()
            elif kind is list:
                items = v
            else:
                continue
            if depth > max_depth:
                return False
            for x in items:
                kind = type(x)
                if kind is dict or kind is list:
                    add(x)
        level = nested
        depth += 1
    return True


def _within(value: Any, limits: Limits) -> bool:
    """Fast pass without paths: True when every limit holds."""
    max_s, max_l, max_d = limits.max_string_length, limits.max_list_length, limits.max_depth
    stack: list[tuple[Any, int]] = [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        v, d = pop()
        if isinstance(v, dict):
            if d > max_d:
                return False
            for k, x in v.items():
                if len(k) > max_s:
                    return False
                if isinstance(x, str):
                    if len(x) > max_s:
                        return False
                elif isinstance(x, dict | list):
                    push((x, d + 1))
        elif isinstance(v, list):
            if d > max_d or len(v) > max_l:
                return False
            for x in v:
                if isinstance(x, str):
                    if len(x) > max_s:
                        return False
                elif isinstance(x, dict | list):
                    push((x, d + 1))
        elif isinstance(v, str) and len(v) > max_s:
            return False
    return True


def _first_violation(value: Any, limits: Limits) -> tuple[str, str, str]:
    """Slow pass, only after the fast one failed: (code, message, dotted path)."""
    stack: list[tuple[Any, int, tuple[Any, ...]]] = [(value, 1, ())]
    while stack:
        v, d, where = stack.pop()
        dotted = ".".join(map(str, where))
        if isinstance(v, str) and len(v) > limits.max_string_length:
            return "string_too_long", f"string longer than {limits.max_string_length}", dotted
        if isinstance(v, dict | list) and d > limits.max_depth:
            return "too_deep", f"nested deeper than {limits.max_depth} levels", dotted
        if isinstance(v, list) and len(v) > limits.max_list_length:
            return "list_too_long", f"list longer than {limits.max_list_length} items", dotted
        if isinstance(v, dict):
            for k, x in v.items():
                if len(k) > limits.max_string_length:
                    return "string_too_long", "object key too long", dotted
                stack.append((x, d + 1, (*where, k)))
        elif isinstance(v, list):
            stack.extend((x, d + 1, (*where, i)) for i, x in enumerate(v))
    raise AssertionError("no violation found")  # pragma: no cover
