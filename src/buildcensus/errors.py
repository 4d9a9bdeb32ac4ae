"""Named exceptions. The CLI maps them to exit codes, the HTTP layer to JSON 4xx errors."""

from __future__ import annotations


class BuildcensusError(Exception):
    """Base class of every error the project raises on purpose."""

    exit_code = 2


class UsageError(BuildcensusError):
    """Bad command-line usage or settings."""

    exit_code = 2


class RecordError(BuildcensusError):
    """A build record failed validation. `path` is the dotted field path."""

    exit_code = 1

    def __init__(self, message: str, path: str = "") -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)


class LakeError(BuildcensusError):
    """The lake (raw object store) could not do what was asked."""

    exit_code = 1


class NotFoundError(LakeError):
    """A build or object is not in the lake."""


class ConfigError(BuildcensusError):
    """A config file is invalid. Carries the dotted key and a stable message id."""

    exit_code = 2

    def __init__(self, key: str, message_id: str, message: str) -> None:
        self.key = key
        self.message_id = message_id
        self.message = message
        super().__init__(f"{key}: {message_id}: {message}")


class WarehouseError(BuildcensusError):
    """The warehouse could not be read or written."""

    exit_code = 1


class QueryError(BuildcensusError):
    """A query or report request is invalid."""

    exit_code = 2


class SubmitError(BuildcensusError):
    """`buildcensus submit` gave up: the service stayed unreachable or refused the token."""

    exit_code = 1


class MissingExtraError(BuildcensusError):
    """An optional dependency (extra) is not installed."""

    exit_code = 2

    def __init__(self, extra: str, module: str) -> None:
        super().__init__(
            f"this needs the optional '{extra}' extra ({module} is not installed): "
            f"pip install 'buildcensus[{extra}]'"
        )
