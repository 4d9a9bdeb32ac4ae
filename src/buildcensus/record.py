"""The build record: one JSON document per build, as pydantic v2 models.

`parse_record` accepts the current shape and the two older shapes a user may hold (the flat
draft format and Read the Docs' stored `BuildData.data`), and normalizes them into
`BuildRecord`. Invalid input raises `RecordError` naming the field path.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import SchemaValidator, to_jsonable_python

from buildcensus.errors import RecordError
from buildcensus.names import (
    is_build_id,
    is_project_slug,
    is_version_slug,
    normalize_apt,
    normalize_conda,
    normalize_pip,
)

SCHEMA_VERSION = 1
TRIGGERS = ("api", "manual", "webhook", "automation_rule", "pull_request", "other")
MAX_DEPTH = 64

Name = Annotated[str, StringConstraints(min_length=1, max_length=512)]
Short = Annotated[str, StringConstraints(max_length=4096)]
Text = Annotated[str, StringConstraints(max_length=1_000_000)]
Trigger = Literal["api", "manual", "webhook", "automation_rule", "pull_request", "other"]
MAX_PACKAGES = 50_000


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class ProjectRef(_Model):
    id: int | None = None
    slug: str

    @field_validator("slug")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not is_project_slug(v):
            raise ValueError("invalid slug: lowercase letters, digits, '-' and '_' only")
        return v


class VersionRef(_Model):
    id: int | None = None
    slug: str

    @field_validator("slug")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not is_version_slug(v):
            raise ValueError("invalid slug: lowercase letters, digits, '-', '_' and '.' only")
        return v


class Step(_Model):
    name: Annotated[str, StringConstraints(max_length=256)]
    seconds: float = Field(ge=0)


class Build(_Model):
    id: int | str
    start: datetime
    length: float | None = Field(default=None, ge=0)
    success: bool | None = None
    commit: Annotated[str, StringConstraints(max_length=256)] | None = None
    trigger: Trigger = "other"
    steps: list[Step] = Field(default_factory=list, max_length=1000)

    @field_validator("id")
    @classmethod
    def _id(cls, v: int | str) -> int | str:
        if isinstance(v, int):
            if v < 0:
                raise ValueError("build id must be >= 0")
            return v
        if not is_build_id(v):
            raise ValueError("invalid build id: letters, digits, '-' and '_' only")
        return v

    @field_validator("start")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            return v.replace(tzinfo=UTC)
        try:
            return v.astimezone(UTC)
        except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00: before year 1 in UTC
            raise ValueError("time out of range once converted to UTC") from None


class ConfigPart(_Model):
    user: dict[str, Any] | None = None
    user_raw: Text | None = None
    final: dict[str, Any] | None = None
    version: str | None = None
    path: Short | None = None
    warnings: list[Short] = Field(default_factory=list, max_length=1000)


class Package(_Model):
    """An installed package (pip `all`/`top_level`, apt `all`)."""

    name: Name
    normalized: Name | None = None
    version: Short | None = None


class PipRequirement(_Model):
    """A requirement as the user wrote it, with the installed version resolved."""

    name: Name
    normalized: Name | None = None
    specifier: Short = ""
    extras: list[Name] = Field(default_factory=list)
    marker: Short | None = None
    url: Short | None = None
    editable: bool = False
    source: Short | None = None
    installed: Short | None = None


class CondaPackage(_Model):
    name: Name
    normalized: Name | None = None
    version: Short | None = None
    channel: Short | None = None
    build: Short | None = None


class CondaRequirement(_Model):
    name: Name
    normalized: Name | None = None
    specifier: Short = ""
    channel: Short | None = None
    pip: bool = False


class PipPackages(_Model):
    user: list[PipRequirement] = Field(default_factory=list, max_length=MAX_PACKAGES)
    top_level: list[Package] = Field(default_factory=list, max_length=MAX_PACKAGES)
    all: list[Package] = Field(default_factory=list, max_length=MAX_PACKAGES)


class CondaPackages(_Model):
    user: list[CondaRequirement] = Field(default_factory=list, max_length=MAX_PACKAGES)
    all: list[CondaPackage] = Field(default_factory=list, max_length=MAX_PACKAGES)


class AptPackages(_Model):
    user: list[Package] = Field(default_factory=list, max_length=MAX_PACKAGES)
    all: list[Package] = Field(default_factory=list, max_length=MAX_PACKAGES)


class Packages(_Model):
    pip: PipPackages = Field(default_factory=PipPackages)
    conda: CondaPackages = Field(default_factory=CondaPackages)
    apt: AptPackages = Field(default_factory=AptPackages)

    @model_validator(mode="after")
    def _normalize(self) -> Packages:
        # Hundreds of entries per record: set the field directly (what BaseModel.__setattr__
        # does for a plain field, minus its per-call overhead); the normalizers are cached.
        for eco, scope, fn in _NORMALIZERS:
            for p in getattr(getattr(self, eco), scope):
                _fill_normalized(p, fn)
        for c in self.conda.user:
            _fill_normalized(c, _conda_user_normalizer(c.pip))
        return self


# Which normalizer fills `normalized` in which package list (`conda.user`: by its `pip` flag,
# `_conda_user_normalizer`); the model (`Packages._normalize`) and the document form
# (`_normalize_document`) both follow it.
_NORMALIZERS = (
    ("pip", "user", normalize_pip),
    ("pip", "top_level", normalize_pip),
    ("pip", "all", normalize_pip),
    ("apt", "user", normalize_apt),
    ("apt", "all", normalize_apt),
    ("conda", "all", normalize_conda),
)


def _conda_user_normalizer(pip: bool) -> Callable[[str], str]:
    return normalize_pip if pip else normalize_conda


def _fill_normalized(p: BaseModel, fn: Any) -> None:
    fields = p.__dict__
    if fields["normalized"] is None:
        fields["normalized"] = fn(fields["name"])
        p.__pydantic_fields_set__.add("normalized")


class Doctool(_Model):
    name: Literal["sphinx", "mkdocs", "other"] | None = None
    extensions: list[Name] = Field(default_factory=list, max_length=5000)
    theme: Name | None = None
    plugins: list[Name] = Field(default_factory=list, max_length=5000)
    markdown_extensions: list[Name] = Field(default_factory=list, max_length=5000)
    builder: Name | None = None


class ProbeError(_Model):
    probe: Annotated[str, StringConstraints(max_length=128)]
    message: Annotated[str, StringConstraints(max_length=8192)]


class Collector(_Model):
    version: str | None = None
    seconds: float | None = Field(default=None, ge=0)


class BuildRecord(_Model):
    """One build: what it was, and what it used."""

    schema_version: Literal[1] = SCHEMA_VERSION
    project: ProjectRef
    version: VersionRef
    organization: ProjectRef | None = None
    build: Build
    config: ConfigPart = Field(default_factory=ConfigPart)
    python: Short | None = None
    os: Short | None = None
    tools: dict[Name, Short] = Field(default_factory=dict)
    packages: Packages = Field(default_factory=Packages)
    doctool: Doctool = Field(default_factory=Doctool)
    errors: list[ProbeError] = Field(default_factory=list, max_length=1000)
    collector: Collector = Field(default_factory=Collector)
    redactions: int = Field(default=0, ge=0)

    def to_json_dict(self) -> dict[str, Any]:
        """The record as plain JSON types (datetimes as ISO 8601 strings)."""
        return self.model_dump(mode="json")


# --------------------------------------------------------------------------- parsing


def _depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """Nesting depth of a JSON value, iteratively (a deep payload must not blow the stack)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if d > deepest:
            deepest = d
            if deepest > limit:
                return deepest
        if isinstance(v, dict):
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, d + 1) for x in v)
    return deepest


def _format_validation_error(exc: ValidationError) -> RecordError:
    errs = exc.errors(include_url=False)
    first = errs[0]
    path = ".".join(str(p) for p in first["loc"])
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = "unknown field"
    if len(errs) > 1:
        msg += f" (and {len(errs) - 1} more problem{'s' if len(errs) > 2 else ''})"
    return RecordError(msg, path)


def _shaped(data: Any, check_depth: bool) -> dict[str, Any]:
    """`data` checked for what the models cannot see and brought into the current shape."""
    if not isinstance(data, dict):
        raise RecordError(f"a build record must be a JSON object, not {type(data).__name__}")
    if check_depth and _depth(data) > MAX_DEPTH:
        raise RecordError(f"nested deeper than {MAX_DEPTH} levels")
    if "schema_version" in data:
        if data["schema_version"] != SCHEMA_VERSION:
            raise RecordError(
                f"unknown schema version {data['schema_version']!r} (supported: {SCHEMA_VERSION})",
                "schema_version",
            )
        return data
    if "user_config" in data or "final_config" in data or "date" in data:
        return _from_flat_draft(data)
    return _from_rtd_build_data(data)


def _validate(shaped: dict[str, Any]) -> BuildRecord:
    try:
        return BuildRecord.model_validate(shaped)
    except ValidationError as exc:
        raise _format_validation_error(exc) from None


def parse_record(data: Any, *, check_depth: bool = True) -> BuildRecord:
    """Validate a record in any supported shape and return it in the current model.

    `check_depth=False` skips the nesting-depth walk, for callers that have already bounded
    the depth (at most MAX_DEPTH) in their own pass, as the ingest service's limits do.
    """
    return _validate(_shaped(data, check_depth))


def parse_record_document(data: Any, *, check_depth: bool = True) -> dict[str, Any]:
    """`parse_record(data).to_json_dict()`, faster: the same checks by the same validators,
    into plain dicts instead of a model per package (about 4x less CPU for a record with
    hundreds of packages). Takes JSON types, as decoded from JSON text.

    What this accepts and returns is what `parse_record` accepts and `to_json_dict` returns
    (tests/record/test_record_document.py). A rejected record is validated again by
    `parse_record`, so its `RecordError` (message and path) is exactly that one's.
    """
    shaped = _shaped(data, check_depth)
    try:
        doc = _document_validator().validate_python(shaped)
    except ValidationError:
        return _validate(shaped).to_json_dict()  # raises the model's own error
    build = doc["build"]
    build["start"] = to_jsonable_python(build["start"])
    return doc


# The document validator is BuildRecord's own pydantic-core schema with every model turned
# into a typed dict of the same fields (same field schemas, constraints, defaults, field
# validators and handling of extra fields), and Packages' normalizing validator into its dict form.


def _normalize_document(packages: dict[str, Any]) -> dict[str, Any]:
    """`Packages._normalize` for the document form."""
    for eco, scope, fn in _NORMALIZERS:
        for p in packages[eco][scope]:
            if p["normalized"] is None:
                p["normalized"] = fn(p["name"])
    for c in packages["conda"]["user"]:
        if c["normalized"] is None:
            c["normalized"] = _conda_user_normalizer(c["pip"])(c["name"])
    return packages


def _model_default(cls: type[BaseModel]) -> Callable[[], dict[str, Any]]:
    return lambda: cls().model_dump()


def _as_typed_dicts(schema: Any) -> Any:
    """A copy of a pydantic-core schema with model schemas replaced by typed-dict schemas."""
    if isinstance(schema, list):
        return [_as_typed_dicts(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    kind = schema.get("type")
    if kind == "model":
        inner = schema["schema"]
        if inner.get("type") != "model-fields" or inner.get("computed_fields"):
            raise TypeError(f"cannot turn {schema.get('cls')} into a typed dict")
        out: dict[str, Any] = {
            "type": "typed-dict",
            "fields": {
                name: {
                    "type": "typed-dict-field",
                    "schema": _as_typed_dicts(field["schema"]),
                    "required": field["schema"]["type"] != "default",
                }
                for name, field in inner["fields"].items()
            },
            "extra_behavior": schema.get("config", {}).get("extra_fields_behavior", "ignore"),
        }
        if "ref" in schema:
            out["ref"] = schema["ref"]
        return out
    out = {k: _as_typed_dicts(v) for k, v in schema.items() if k != "metadata"}
    factory = schema.get("default_factory")
    if kind == "default" and isinstance(factory, type) and issubclass(factory, BaseModel):
        out["default_factory"] = _model_default(factory)
    if kind in ("function-after", "function-before", "function-wrap", "function-plain"):
        if schema["function"]["function"] == Packages._normalize:
            out["function"] = {"type": "no-info", "function": _normalize_document}
        elif kind != "function-after" or schema["function"]["type"] != "no-info":
            raise TypeError(f"cannot carry validator {schema['function']} over to a typed dict")
    return out


@cache
def _document_validator() -> SchemaValidator:
    return SchemaValidator(_as_typed_dicts(BuildRecord.__pydantic_core_schema__))


def parse_record_json(text: str | bytes) -> BuildRecord:
    """Parse JSON text into a record; malformed JSON becomes a RecordError."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise RecordError(f"malformed JSON: {exc}") from None
    return parse_record(data)


def _ref(value: Any, kind: str) -> Any:
    """A legacy `project`/`version` may be a bare slug or an object."""
    if isinstance(value, str):
        return {"slug": value}
    if isinstance(value, dict):
        out = {k: value[k] for k in ("id", "slug") if k in value}
        return out if "slug" in out else value
    if value is None:
        raise RecordError("missing", kind)
    return value


def _pkg_list(items: Any, path: str) -> list[Any]:
    """Legacy package lists: objects with name/version, or `name==version` strings."""
    if items is None:
        return []
    if isinstance(items, dict):  # conda `all: {}` when conda is not used
        if not items:
            return []
        raise RecordError("expected a list of packages", path)
    if not isinstance(items, list):
        raise RecordError("expected a list of packages", path)
    out: list[Any] = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            name, _, version = item.partition("==")
            out.append({"name": name.strip(), "version": version.strip() or None})
        elif isinstance(item, dict):
            out.append(item)
        else:
            raise RecordError("expected a package object or 'name==version'", f"{path}.{i}")
    return out


def _legacy_pip_user(items: Any, path: str) -> list[dict[str, Any]]:
    out = []
    for p in _pkg_list(items, path):
        spec = p.get("specifier", p.get("version")) or ""
        if isinstance(spec, str) and spec and spec[0].isdigit():
            spec = f"=={spec}"
        out.append({"name": p.get("name"), "specifier": spec})
    return out


def _legacy_conda_all(items: Any, path: str) -> list[dict[str, Any]]:
    return [
        {
            "name": p.get("name"),
            "version": p.get("version"),
            "channel": p.get("channel"),
            "build": p.get("build_string") or p.get("build"),
        }
        for p in _pkg_list(items, path)
    ]


def _simple(items: Any, path: str) -> list[dict[str, Any]]:
    return [{"name": p.get("name"), "version": p.get("version")} for p in _pkg_list(items, path)]


def _mapping(value: Any, path: str) -> dict[str, Any]:
    """A legacy sub-object: absent/null means empty; anything but a mapping is an error."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RecordError(f"expected an object, not {type(value).__name__}", path)
    return value


def _trigger(value: Any) -> str:
    return value if value in TRIGGERS else "other"


def _from_rtd_build_data(d: dict[str, Any]) -> dict[str, Any]:
    """Read the Docs' `BuildData.data`: config.user/final, packages.*, doctool, build.*."""
    build = dict(_mapping(d.get("build"), "build"))
    if "start" not in build and "date" in build:
        build["start"] = build.pop("date")
    build.pop("date", None)
    if "trigger" in build:
        build["trigger"] = _trigger(build["trigger"])
    cfg = _mapping(d.get("config"), "config")
    pk = _mapping(d.get("packages"), "packages")
    pip = _mapping(pk.get("pip"), "packages.pip")
    conda = _mapping(pk.get("conda"), "packages.conda")
    apt = _mapping(pk.get("apt"), "packages.apt")
    dt = _mapping(d.get("doctool"), "doctool")
    theme = dt.get("theme", dt.get("html_theme"))
    final = cfg.get("final")
    version = None
    if isinstance(final, dict) and final.get("version") is not None:
        version = str(final["version"])
    out: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "project": _ref(d.get("project"), "project"),
        "version": _ref(d.get("version"), "version"),
        "build": build,
        "config": {
            "user": cfg.get("user") or None,
            "final": final,
            "version": version,
        },
        "python": d.get("python"),
        "os": d.get("os"),
        "packages": {
            "pip": {
                "user": _legacy_pip_user(pip.get("user"), "packages.pip.user"),
                "top_level": _simple(pip.get("top_level"), "packages.pip.top_level"),
                "all": _simple(pip.get("all"), "packages.pip.all"),
            },
            "conda": {"all": _legacy_conda_all(conda.get("all"), "packages.conda.all")},
            "apt": {
                "user": _simple(apt.get("user"), "packages.apt.user"),
                "all": _simple(apt.get("all"), "packages.apt.all"),
            },
        },
        "doctool": {
            "name": dt.get("name")
            if dt.get("name") in ("sphinx", "mkdocs")
            else "other"
            if dt.get("name")
            else None,
            "extensions": dt.get("extensions") or [],
            "theme": theme or None,
            "plugins": dt.get("plugins") or [],
        },
    }
    if d.get("organization"):
        out["organization"] = _ref(d["organization"], "organization")
    if d.get("tools"):
        out["tools"] = d["tools"]
    return out


def _from_flat_draft(d: dict[str, Any]) -> dict[str, Any]:
    """The flat draft: user_config, final_config, packages.pip as a list, python, trigger, date."""
    b = d.get("build")
    build: dict[str, Any] = dict(b) if isinstance(b, dict) else {"id": b}
    if build.get("id") is None and "build_id" in d:
        build["id"] = d["build_id"]
    build.setdefault("start", d.get("date"))
    for key in ("length", "success", "commit"):
        if key in d:
            build.setdefault(key, d[key])
    build["trigger"] = _trigger(d.get("trigger", build.get("trigger")))
    final = d.get("final_config")
    pk = _mapping(d.get("packages"), "packages")
    pip = pk.get("pip")
    pip_all = pip if isinstance(pip, list) else _mapping(pip, "packages.pip").get("all")
    out: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "project": _ref(d.get("project"), "project"),
        "version": _ref(d.get("version"), "version"),
        "build": build,
        "config": {
            "user": d.get("user_config") or None,
            "final": final,
            "version": str(final["version"])
            if isinstance(final, dict) and final.get("version") is not None
            else None,
        },
        "python": d.get("python"),
        "os": d.get("os"),
        "packages": {"pip": {"all": _simple(pip_all, "packages.pip")}},
    }
    return out


def record_json_schema() -> dict[str, Any]:
    """The published JSON Schema of the current record shape."""
    schema = BuildRecord.model_json_schema()
    schema["$id"] = f"https://buildcensus.invalid/schema/build-record-v{SCHEMA_VERSION}.json"
    schema["title"] = "buildcensus build record"
    return schema
