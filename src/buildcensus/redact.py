"""Secret redaction: secret-looking values never reach storage.

Applied by the lake writer to every record before it is stored (so the CLI, the ingest
service and the simulator all go through it) and by the collector before it prints a record.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from buildcensus.record import BuildRecord

MASK = "[REDACTED]"

# Well-known token formats (prefix + enough entropy that ordinary words never match).
_TOKEN_PATTERNS = [
    r"gh[pousr]_[A-Za-z0-9]{30,}",  # GitHub classic tokens
    r"github_pat_[A-Za-z0-9_]{30,}",  # GitHub fine-grained tokens
    r"glpat-[A-Za-z0-9_\-]{20,}",  # GitLab personal access tokens
    r"(?:AKIA|ASIA)[0-9A-Z]{16}",  # AWS access key ids
    r"xox[abposr]-[A-Za-z0-9\-]{10,}",  # Slack tokens
    r"pypi-[A-Za-z0-9_\-]{40,}",  # PyPI API tokens
    r"npm_[A-Za-z0-9]{30,}",  # npm tokens
    r"sk-(?:proj-)?[A-Za-z0-9_\-]{20,}",  # OpenAI-style secret keys
    r"sk_(?:live|test)_[A-Za-z0-9]{16,}",  # Stripe secret keys
    r"AIza[0-9A-Za-z_\-]{35}",  # Google API keys
    r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",  # JWTs
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)",
]
_TOKEN_RE = re.compile("|".join(f"(?:{p})" for p in _TOKEN_PATTERNS))

# user:password@ in URLs (also a bare token@ as used for git+https://TOKEN@github.com).
_URL_CREDS_RE = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<creds>[^/\s@:]+(?::[^/\s@]*)?)@"
)

_SECRET_NAME = r"[A-Za-z0-9_]*(?:TOKEN|SECRET|PASSWORD|PASSWD|PASS|API_?KEY|_KEY|CREDENTIALS?)"
# NAME=value / NAME: value assignments whose name looks secret (`export GH_TOKEN=...`).
_ASSIGN_RE = re.compile(
    rf"(?P<name>\b{_SECRET_NAME}\b)(?P<sep>\s*[=:]\s*)(?P<q>['\"]?)(?P<value>[^\s'\";&|]+)",
    re.IGNORECASE,
)
# --password X, --token=X, -p? (too ambiguous: not handled)
_FLAG_RE = re.compile(
    r"(?P<flag>--(?:password|passwd|token|api-key|apikey|secret|auth-token))(?P<sep>[= ]+)"
    r"(?P<q>['\"]?)(?P<value>[^\s'\"]+)",
    re.IGNORECASE,
)
_BEARER_RE = re.compile(
    r"(?P<kind>\b(?:Bearer|Basic|token)\s+)(?P<value>[A-Za-z0-9._~+/\-]{16,}=*)"
)
_SECRET_KEY_RE = re.compile(rf"^{_SECRET_NAME}$|^(?:password|passwd|secret|token|api_key)$", re.I)

# Fields that are identities or timestamps, never secrets (and must not be altered).
_SKIP = {
    ("project",),
    ("version",),
    ("organization",),
    ("build", "id"),
    ("build", "start"),
    ("build", "commit"),
    ("schema_version",),
    ("redactions",),
}


# One cheap pass that every secret pattern above implies; most strings stop here.
_MAYBE_RE = re.compile(
    r"gh[pousr]_|github_pat_|glpat-|AKIA|ASIA|xox[abposr]-|pypi-|npm_|sk[-_]|AIza|eyJ"
    r"|PRIVATE KEY|@|TOKEN|SECRET|PASS|KEY|CREDENTIAL|--|Bearer|Basic",
    re.IGNORECASE,
)
# The same on lowercased ASCII text, without IGNORECASE: about ten times faster (Python's
# re tries every alternative at every position under IGNORECASE). For ASCII text both agree;
# other text (where Unicode case folding has more cases) takes `_MAYBE_RE`.
_MAYBE_LOWER_RE = re.compile(_MAYBE_RE.pattern.lower())


def _maybe(text: str) -> bool:
    """True when `text` may hold a secret (every pattern below implies a match)."""
    if text.isascii():
        return _MAYBE_LOWER_RE.search(text.lower()) is not None
    return _MAYBE_RE.search(text) is not None


# Installed-package lists hold registry names and versions only: no place for a secret,
# except a conda channel, which may be a URL with a token.
_PACKAGE_LISTS = (("pip", "all"), ("pip", "top_level"), ("apt", "all"), ("apt", "user"))


def redact_text(text: str) -> tuple[str, int]:
    """Mask secret-looking parts of a string; returns (new text, number of masks)."""
    if len(text) < 8 or not _maybe(text):
        return text, 0
    original = text
    text = _TOKEN_RE.sub(MASK, text)
    text = _URL_CREDS_RE.sub(lambda m: f"{m['scheme']}{MASK}@", text)

    def _assign(m: re.Match[str]) -> str:
        return m.group(0) if m["value"] == MASK else f"{m['name']}{m['sep']}{m['q']}{MASK}"

    def _flag(m: re.Match[str]) -> str:
        return m.group(0) if m["value"] == MASK else f"{m['flag']}{m['sep']}{m['q']}{MASK}"

    text = _ASSIGN_RE.sub(_assign, text)
    text = _FLAG_RE.sub(_flag, text)
    text = _BEARER_RE.sub(lambda m: f"{m['kind']}{MASK}", text)
    # Overlapping patterns collapse into one mask; count the masks this call added.
    while f"{MASK}{MASK}" in text:
        text = text.replace(f"{MASK}{MASK}", MASK)
    count = max(text.count(MASK) - original.count(MASK), 0)
    if count == 0 and text != original:
        count = 1
    return text, count


def redact_value(value: Any, path: tuple[str, ...] = ()) -> tuple[Any, int]:
    """Redact every string inside a JSON value; mapping keys named like secrets mask values."""
    if path in _SKIP:
        return value, 0
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, list):
        total = 0
        out_list = []
        for item in value:
            new, n = redact_value(item, (*path, "*"))
            total += n
            out_list.append(new)
        return out_list, total
    if isinstance(value, dict):
        total = 0
        out: dict[str, Any] = {}
        for key, item in value.items():
            if (
                isinstance(key, str)
                and _SECRET_KEY_RE.match(key)
                and isinstance(item, str)
                and item
                and item != MASK
            ):
                out[key] = MASK
                total += 1
                continue
            new, n = redact_value(item, (*path, key))
            total += n
            out[key] = new
        return out, total
    return value, 0


_CACHE: dict[bytes, tuple[int, bytes | None]] = {}
_CACHE_SIZE = 16384


def _redact_cached(value: Any, path: tuple[str, ...]) -> tuple[Any, int]:
    """`redact_value` for parts that repeat across builds (configs, requirement lists)."""
    if not value:
        return value, 0
    key = orjson.dumps(value)
    hit = _CACHE.get(key)
    if hit is None:
        new, n = redact_value(value, path)
        hit = (n, orjson.dumps(new) if n else None)
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = hit
    n, redacted = hit
    return (orjson.loads(redacted) if redacted is not None else value), n


def _may_hold_secret(value: Any) -> bool:
    """False only when nothing in a JSON value can be masked: one `_MAYBE_RE` pass over its
    JSON text. Every pattern and secret-looking mapping key implies a `_MAYBE_RE` match, and
    no match can span the characters JSON escapes (quote, backslash, control characters), so a
    match in any string or key of the value is also a match in its JSON text."""
    try:
        text = orjson.dumps(value).decode()
    except (orjson.JSONEncodeError, TypeError):  # not plain JSON: take the full walk
        return True
    return _maybe(text)


def redact_part(name: str, value: Any) -> tuple[Any, int]:
    """Redact a record's `config` or `packages` part (JSON types) as `redact_document` does;
    `packages` is changed in place, `config` is returned as a new value when changed."""
    if name == "config":
        return _redact_cached(value, ("config",))
    total = 0
    for eco, scopes in value.items():
        for scope, items in scopes.items():
            if (eco, scope) in _PACKAGE_LISTS:
                continue
            if (eco, scope) == ("conda", "all"):
                for item in items:
                    if item.get("channel"):
                        item["channel"], n = redact_text(item["channel"])
                        total += n
                continue
            scopes[scope], n = _redact_cached(items, ("packages", eco, scope))
            total += n
    return value, total


def redact_document(doc: dict[str, Any]) -> int:
    """Mask secrets in a record's JSON document in place; adds the count to `redactions`."""
    total = 0
    light = [k for k in doc if k not in ("config", "packages") and (k,) not in _SKIP]
    if light and _may_hold_secret({k: doc[k] for k in light}):
        for key in light:
            doc[key], n = redact_value(doc[key], (key,))
            total += n
    for key in ("config", "packages"):
        if doc.get(key):
            doc[key], n = redact_part(key, doc[key])
            total += n
    if total:
        doc["redactions"] = doc.get("redactions", 0) + total
    return total


def redact_record(record: BuildRecord) -> BuildRecord:
    """A copy of the record with secrets masked and `redactions` increased by their count."""
    data = record.model_dump(mode="json")
    if redact_document(data) == 0:
        return record
    return BuildRecord.model_validate(data)
