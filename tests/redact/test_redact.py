"""Redaction over a corpus of realistic (fake) secrets in the places builds put them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from buildcensus.lake import Lake, LocalStorage
from buildcensus.record import parse_record
from buildcensus.redact import MASK, redact_record, redact_text

GH = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
SECRETS = [
    # (text, the secret that must disappear)
    (f"export GITHUB_TOKEN={GH}", GH),
    (f"git clone https://{GH}@github.com/org/private.git", GH),
    (
        "git+https://oauth2:glpat-Xy9zAbCdEfGhIjKlMnOp@gitlab.com/g/p.git#egg=p",
        "glpat-Xy9zAbCdEfGhIjKlMnOp",
    ),
    ("pip install -i https://deploy:S3cretPassw0rd@pypi.corp.example/simple pkg", "S3cretPassw0rd"),
    ("AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE aws s3 sync _build s3://docs", "AKIAIOSFODNN7EXAMPLE"),
    ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY make", "wJalrXUtnFEMI"),
    (
        "curl -H 'Authorization: Bearer 0123456789abcdef0123456789abcdef' https://x",
        "0123456789abcdef0123",
    ),
    (
        "SLACK_WEBHOOK=https://hooks.slack.com/services/T000/B000/XXXX xoxb-1234567890-abcdefghij",
        "xoxb-1234567890-abcdefghij",
    ),
    (
        "twine upload --password "
        "pypi-AgEIcHlwaS5vcmcCJGE0ZjM5NzAzLWE2YTQtNDA2Ny1hMjZhLTc2ZDM dist/*",
        "pypi-AgEIcHlwaS5vcmcCJGE0ZjM5",
    ),
    ("OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwx python gen.py", "sk-proj-abcdefghijklmnop"),
    ("DB_PASSWORD='hunter2hunter2' ./build.sh", "hunter2hunter2"),
    ("READTHEDOCS_TOKEN: 5f4dcc3b5aa765d61d8327deb882cf99", "5f4dcc3b5aa765d61d8327deb882cf99"),
    (
        "npm config set //registry.npmjs.org/:_authToken npm_abcdefghijklmnopqrstuvwxyz0123456789",
        "npm_abcdefghijklmnopqrstuvwxyz0123456789",
    ),
    (
        "key: -----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
        "MIIEpAIBAAKCAQEA",
    ),
    (
        "GOOGLE_KEY AIzaSyA1234567890abcdefghijklmnopqrstuv used",
        "AIzaSyA1234567890abcdefghijklmnopqrstuv",
    ),
    (
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
        "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "dozjgNryP4J3jVmNHl0w5N",
    ),
]

INNOCENT = [
    "sphinx-build -b html docs/ _build/html",
    "sphinx>=5,<7",
    "git+https://github.com/org/repo.git@v1.2#egg=repo",
    "python -m pip install --upgrade pip setuptools",
    "pip install -r docs/requirements.txt",
    "keyboard-layout==1.0",
    "export PATH=$HOME/.local/bin:$PATH",
    "mkdocs build --strict --config-file mkdocs.yml",
]


@pytest.mark.parametrize(("text", "secret"), SECRETS)
def test_secret_is_masked(text, secret):
    out, n = redact_text(text)
    assert secret not in out
    assert MASK in out
    assert n >= 1


@pytest.mark.parametrize("text", INNOCENT)
def test_innocent_text_unchanged(text):
    assert redact_text(text) == (text, 0)


def test_redact_is_idempotent():
    for text, _ in SECRETS:
        once, _ = redact_text(text)
        assert redact_text(once) == (once, 0)


def test_record_redaction_everywhere(record_dict, tmp_path):
    record_dict["config"]["user"]["build"]["commands"] = [f"GH_TOKEN={GH} make docs"]
    record_dict["config"]["user_raw"] += f"# token: {GH}\n"
    record_dict["config"]["user"]["password"] = "plain-text-password"
    record_dict["build"]["steps"] = [
        {"name": f"curl https://u:pw12345@x.example/{GH}", "seconds": 1}
    ]
    record_dict["packages"]["pip"]["user"] = [
        {
            "name": "private",
            "url": "git+https://oauth2:glpat-Xy9zAbCdEfGhIjKlMnOp@gitlab.com/a/b.git",
        }
    ]
    rec = redact_record(parse_record(record_dict))
    dumped = rec.model_dump_json()
    assert GH not in dumped and "glpat-" not in dumped and "plain-text-password" not in dumped
    assert "pw12345" not in dumped
    assert rec.redactions >= 5
    # The lake applies it before writing: nothing secret on disk.
    lake = Lake(LocalStorage(tmp_path))
    lake.store(parse_record(record_dict))
    for key in lake.storage.list():
        data = lake.storage.get(key).decode()
        assert GH not in data and "glpat-" not in data
    assert lake.get("42")["redactions"] == rec.redactions


def test_identity_fields_untouched(record_dict):
    record_dict["build"]["commit"] = "a" * 40
    rec = redact_record(parse_record(record_dict))
    assert rec.build.commit == "a" * 40 and rec.redactions == 0


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_fuzz_redact_never_crashes(text):
    out, n = redact_text(text)
    assert isinstance(out, str) and n >= 0
    assert redact_text(out)[1] == 0


# Pieces of what `_MAYBE_RE` looks for, and characters Unicode case folding treats specially.
_PIECES = ["gh", "p_", "github_pat_", "glpat-", "AKIA", "asia", "xox", "b-", "pypi-", "npm_"]
_PIECES += ["sk", "-", "_", "AIza", "eyJ", "private key", "@", "ToKeN", "secret", "pass", "KEY"]
_PIECES += ["credential", "bearer", "Basic", "a", " ", "é", "ſ", "\u212a", "İ", '"', "\\", "\n"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=12).map("".join))
def test_lowercase_prescan_agrees_with_ignorecase(text):
    from buildcensus.redact import _MAYBE_RE, _maybe

    for t in (text, text.upper(), text.swapcase()):
        assert _maybe(t) == (_MAYBE_RE.search(t) is not None)


_json_text = st.lists(st.sampled_from([*_PIECES, GH, "=", "://", "u:pw1234567"]), max_size=8).map(
    "".join
)
_json_values = st.recursive(
    st.none() | st.integers() | _json_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_json_text, inner, max_size=4),
    max_leaves=12,
)


_LIGHT_KEYS = st.sampled_from(["build", "doctool", "tools", "os", "errors"])


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_LIGHT_KEYS, _json_values))
def test_prescan_skips_only_documents_with_nothing_to_mask(doc):
    """Skipping the walk when the JSON text has no `_MAYBE_RE` match changes nothing."""
    import copy

    from buildcensus import redact

    full = copy.deepcopy(doc)
    n_full = 0
    for key in list(full):
        full[key], n = redact.redact_value(full[key], (key,))
        n_full += n
    fast = copy.deepcopy(doc)
    assert redact.redact_document(fast) == n_full
    if n_full:
        full["redactions"] = n_full
    assert fast == full
