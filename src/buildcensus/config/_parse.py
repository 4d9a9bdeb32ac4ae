"""Safe parsing of a config file: bytes -> text -> YAML mapping, with duplicate-key warnings."""

from __future__ import annotations

import base64
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode

from buildcensus.errors import ConfigError

MAX_CONFIG_BYTES = 1_000_000
MAX_NODES = 100_000

SYNTAX_INVALID = "config:base:invalid-syntax"
ENCODING_INVALID = "config:base:invalid-encoding"
TOO_LARGE = "config:base:too-large"

_TAB_INDENT = re.compile(r"^[ ]*\t", re.MULTILINE)


@dataclass
class Parsed:
    """The parsed file: its text as written, the mapping, and what the parser noticed."""

    raw: str
    data: dict[Any, Any]
    warnings: list[str] = field(default_factory=list)


class _DupKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader (what the platform uses) that also records duplicated keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[str] = []

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                if key in seen:
                    line = key_node.start_mark.line + 1
                    self.duplicates.append(
                        f"duplicate key {key!r} at line {line}: the last value wins"
                    )
                seen.add(key)
            except TypeError:  # unhashable: the base class reports it
                continue
        return super().construct_mapping(node, deep=deep)


def decode(data: bytes) -> str:
    """Bytes of a config file -> text (UTF-8, as the platform reads it)."""
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            ".", TOO_LARGE, f"the file is {len(data)} bytes; the limit is {MAX_CONFIG_BYTES}"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            ".", ENCODING_INVALID, f"the file is not valid UTF-8 (byte {exc.start})"
        ) from exc


def _syntax_message(text: str, exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is not None:
        lines = text.splitlines()
        near = lines[max(0, mark.line - 1) : mark.line + 1]
        if any(_TAB_INDENT.match(ln) for ln in near):
            return f"tab indentation is not allowed in YAML{where}"
    elif _TAB_INDENT.search(text):
        return f"tab indentation is not allowed in YAML: {problem}"
    return f"invalid YAML{where}: {problem}"


def _check_shape(value: Any, budget: list[int], stack: set[int]) -> None:
    """Reject recursive aliases and alias bombs before anything walks the data."""
    budget[0] -= 1
    if budget[0] < 0:
        raise ConfigError(".", SYNTAX_INVALID, f"the file expands to more than {MAX_NODES} values")
    if isinstance(value, dict | list | tuple | set | frozenset):
        if id(value) in stack:
            raise ConfigError(".", SYNTAX_INVALID, "recursive YAML alias")
        stack.add(id(value))
        items = list(value.items()) if isinstance(value, dict) else [(None, v) for v in value]
        for k, v in items:
            if k is not None:
                _check_shape(k, budget, stack)
            _check_shape(v, budget, stack)
        stack.discard(id(value))


def parse_text(raw: str) -> Parsed:
    """Parse config text like the platform (safe YAML, a non-empty mapping at the top)."""
    # The platform reads the file in text mode: universal newlines.
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    loader = None
    try:
        loader = _DupKeyLoader(text)
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        raise ConfigError(".", SYNTAX_INVALID, _syntax_message(text, exc)) from exc
    except RecursionError as exc:
        raise ConfigError(".", SYNTAX_INVALID, "the YAML is nested too deeply") from exc
    except (ValueError, OverflowError, TypeError) as exc:  # e.g. an impossible timestamp
        raise ConfigError(".", SYNTAX_INVALID, f"invalid YAML value: {exc}") from exc
    finally:
        if loader is not None:
            loader.dispose()
    if not isinstance(data, dict):
        kind = "empty" if data is None else type(data).__name__
        raise ConfigError(
            ".", SYNTAX_INVALID, f"the top level must be a mapping of keys, got {kind}"
        )
    if not data:
        raise ConfigError(".", SYNTAX_INVALID, "the file is an empty mapping")
    try:
        _check_shape(data, [MAX_NODES], set())
    except RecursionError as exc:
        raise ConfigError(".", SYNTAX_INVALID, "the YAML is nested too deeply") from exc
    return Parsed(raw=raw, data=data, warnings=list(loader.duplicates if loader else []))


def parse_bytes(data: bytes) -> Parsed:
    """Decode and parse the bytes of a config file."""
    return parse_text(decode(data))


def to_jsonable(value: Any) -> Any:
    """The user's mapping as JSON: keys as strings, dates as ISO text, bytes as base64."""
    if isinstance(value, dict):
        return {_key(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((to_jsonable(v) for v in value), key=repr)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return "nan"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    return value


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(to_jsonable(key))
