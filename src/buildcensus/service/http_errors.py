"""JSON at the HTTP edge: answers (`json_response`), and errors, every 4xx/5xx body being
`{"error": {"code", "message", "path"}}`."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("buildcensus.service")


def json_response(value: Any, status: int = 200) -> Response:
    """A JSON response serialized with orjson."""
    return Response(orjson.dumps(value), status, media_type="application/json")


_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
}


class ErrorDetail(BaseModel):
    """What went wrong: a stable code, a human message, the dotted field path (or null)."""

    code: str
    message: str
    path: str | None = None


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


class ApiError(Exception):
    """An error with its HTTP status, stable code, message and (for input errors) field path."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        path: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.path = path or None
        self.headers = headers

    def detail(self) -> dict[str, Any]:
        """The `error` object of the JSON body."""
        return {"code": self.code, "message": self.message, "path": self.path}

    def response(self) -> JSONResponse:
        """This error as a JSON response."""
        return JSONResponse({"error": self.detail()}, self.status, headers=self.headers)


def error_response(status: int, message: str, path: str | None = None) -> JSONResponse:
    """A JSON error response with the default code for `status`."""
    return ApiError(status, _CODES.get(status, f"http_{status}"), message, path).response()


# Documented in OpenAPI for every route, so response validation (Schemathesis) knows them.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": code.replace("_", " ")}
    for status, code in _CODES.items()
    if status in (400, 401, 403, 404, 409, 413, 415, 422)
}


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    resp = error_response(exc.status_code, str(exc.detail))
    if exc.headers:
        resp.headers.update(exc.headers)
    return resp


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    path = ".".join(str(p) for p in first.get("loc", ()))
    return error_response(422, str(first.get("msg", "invalid request")), path)


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return ApiError(500, "internal", "internal server error").response()


def install_error_handlers(app: FastAPI) -> None:
    """Map every error to the one JSON shape."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _internal_error)
