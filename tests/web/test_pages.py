"""The dashboard through the ASGI app: auth, every page, public mode, no non-local URL."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
import pytest

from buildcensus.reports import make_params, run_report
from buildcensus.service.auth import revoke_token
from buildcensus.warehouse import open_warehouse
from buildcensus.web._routes import NAV
from buildcensus.web._session import COOKIE

from .conftest import Asgi, Data, K, asgi, make_app

PAGES = [
    "/?days=90",
    "/packages?days=90",
    "/packages?days=365&ecosystem=pip&package=Sphinx&by=month",
    "/extensions?days=90",
    "/environment?days=90",
    "/config-keys?days=90",
    "/build-time?days=90",
    "/impact?days=90&where=pip:sphinx>=1&where=python>=3",
    "/regressions?days=365&min_builds=1",
]


class Page(HTMLParser):
    """Links, scripts, styles and tables of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.tables: list[dict] = []
        self._cell: list[str] | None = None
        self._in_head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src", "action", "formaction", "xlink:href") and value:
                self.refs.append(value)
        if tag == "table":
            self.tables.append({"head": [], "rows": []})
        elif tag == "thead":
            self._in_head = True
        elif tag == "tbody":
            self._in_head = False
        elif tag == "tr" and self.tables and not self._in_head:
            self.tables[-1]["rows"].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.tables:
            text = "".join(self._cell).strip()
            t = self.tables[-1]
            (t["head"] if self._in_head else t["rows"][-1]).append(text)
            self._cell = None


def parse(html: str) -> Page:
    p = Page()
    p.feed(html)
    return p


def login(c: Asgi, token: str) -> httpx.Response:
    return c.post("/login", data={"token": token, "next": "/packages"})


# Anything a browser could fetch from another host: absolute or protocol-relative URLs.
REMOTE = re.compile(r"(?i)\b(?:https?|ftp|wss?):\/\/|(?:src|href|action)\s*=\s*[\"']?\/\/|@import")


def test_pages_need_a_login_and_the_session_cookie_works(client: Asgi, data: Data) -> None:
    r = client.get("/packages?days=90")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fpackages%3Fdays%3D90"
    assert client.get("/login").status_code == 200
    r = login(client, "bct_not-a-token")
    assert r.status_code == 401 and "invalid token" in r.text and COOKIE not in client.cookies
    r = login(client, data.write)
    assert r.status_code == 401 and "no read scope" in r.text
    r = login(client, data.read)
    assert (r.status_code, r.headers["location"]) == (303, "/packages")
    cookie = r.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    sid = client.cookies[COOKIE]
    assert data.read not in cookie and len(sid) >= 40
    assert client.get("/packages?days=90").status_code == 200
    # never an open redirect
    r = client.post("/login", data={"token": data.read, "next": "//evil.example/x"})
    assert r.headers["location"] == "/"
    r = client.post("/logout")
    assert r.status_code == 303 and client.get("/").status_code == 303


def test_bearer_token_and_revocation_end_access(data: Data, tmp_path) -> None:
    import shutil

    from buildcensus.service.auth import create_token

    tokens = tmp_path / "tokens.json"
    shutil.copy(data.tokens, tokens)
    tok = create_token(tokens, "temp", ["read"])
    app = make_app(data)
    from buildcensus.service.auth import TokenStore

    app.state.tokens = TokenStore(tokens)
    with asgi(app) as c:
        assert c.get("/config-keys", headers={"authorization": f"Bearer {tok}"}).status_code == 200
        assert login(c, tok).status_code == 303
        assert c.get("/config-keys").status_code == 200
        revoke_token(tokens, "temp")
        assert c.get("/config-keys").status_code == 303


@pytest.fixture
def logged_in(client: Asgi, data: Data) -> Asgi:
    assert login(client, data.read).status_code == 303
    return client


@pytest.mark.parametrize("path", PAGES)
def test_every_page_draws_charts_with_tables(logged_in: Asgi, path: str) -> None:
    r = logged_in.get(path)
    assert r.status_code == 200, r.text[-500:]
    assert "default-src 'none'" in r.headers["content-security-policy"]
    html = r.text
    assert 'class="error"' not in html
    marks = re.findall(r'<rect class="mark"[^>]*data-value="([0-9.]+)"', html)
    assert marks and sum(float(v) for v in marks) > 0
    page = parse(html)
    assert page.tables and all(t["head"] for t in page.tables)
    assert any(t["rows"] and t["rows"][0] != ["no rows"] for t in page.tables)
    assert html.count('data-download="svg"') == html.count('data-download="png"') >= 1
    for d in ("15", "30", "90", "365"):
        assert f"days={d}" in html


def test_no_page_references_a_non_local_url(logged_in: Asgi, data: Data) -> None:
    public = asgi(make_app(data, public=True))
    served: dict[str, str] = {}
    for c, paths in ((logged_in, [*PAGES, "/login"]), (public, ["/", "/impact?where=python>=3"])):
        for path in paths:
            served[path] = c.get(path).text
            for ref in parse(served[path]).refs:
                assert ref.startswith(("/", "?", "#", "data:")) and not ref.startswith("//"), ref
                if ref.startswith("/_dashboard/static/"):
                    r = c.get(ref)
                    assert r.status_code == 200 and "max-age" in r.headers["cache-control"]
                    served[ref] = r.text
    assert any(p.endswith(".js" + p[p.index(".js") + 3 :]) for p in served if ".js" in p)
    assert any(".css" in p for p in served)
    for path, text in served.items():
        assert not REMOTE.search(text), (path, REMOTE.search(text))
    # the pages name only the two static files of the dashboard
    statics = {ref for t in served.values() for ref in parse(t).refs if "/static/" in ref}
    assert {s.split("?")[0] for s in statics} == {
        "/_dashboard/static/dashboard.css",
        "/_dashboard/static/dashboard.js",
    }


def test_impact_page_and_csv_agree_with_the_report(logged_in: Asgi, data: Data) -> None:
    where = ["pip:sphinx>=1", "python>=3"]
    con = open_warehouse(str(data.warehouse)).connect()
    expected = run_report("impact", make_params(last="90d", now=data.now, where=where), con)
    assert expected["projects"] > 0
    q = "days=90&where=pip:sphinx>=1&where=python>=3"
    html = logged_in.get(f"/impact?{q}").text
    assert f'data-stat="affected projects">{expected["projects"]}<' in html
    r = logged_in.get(f"/impact.csv?{q}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    lines = r.text.splitlines()
    assert lines[0] == "project,last_build,matched"
    assert sorted(ln.split(",")[0] for ln in lines[1:]) == sorted(
        a["project"] for a in expected["affected"]
    )
    bad = logged_in.get("/impact?where=pip:sphinx<<2")
    assert (
        bad.status_code == 400 and 'class="error"' in bad.text and "pip:sphinx&lt;&lt;2" in bad.text
    )
    assert logged_in.get("/impact.csv?where=nope").status_code == 400


def test_public_mode_shows_only_values_of_k_projects(data: Data) -> None:
    app = make_app(data, public=True, min_projects=K)
    con = open_warehouse(str(data.warehouse)).connect()
    projects = [r[0] for r in con.execute("SELECT DISTINCT project FROM builds").fetchall()]
    versions = run_report(
        "versions", make_params(last="90d", now=data.now, ecosystem="pip", package="sphinx"), con
    )
    rare = [v["version"] for v in versions if 0 < v["projects"] < K]
    common = [v["version"] for v in versions if v["projects"] >= K]
    assert rare and common  # the data exercises both sides of the threshold
    with asgi(app) as c:
        assert c.get("/login").status_code == 303  # nothing to log in to
        for path in [p for p in PAGES if not p.startswith("/build-time")]:
            r = c.get(path)
            assert r.status_code == 200, path
            page = parse(r.text)
            for t in page.tables:
                for col in ("projects", "moved_projects"):
                    if col in t["head"]:
                        i = t["head"].index(col)
                        cells = [row[i] for row in t["rows"] if len(row) > i]
                        assert all(int(v.replace(",", "")) >= K for v in cells), (path, cells)
            assert not any(p in r.text for p in projects), path
        html = c.get("/packages?days=90&ecosystem=pip&package=sphinx").text
        table = parse(html).tables[1]
        shown = [row[0] for row in table["rows"]]
        assert set(common) <= set(shown) and not set(rare) & set(shown)
        assert c.get("/build-time").status_code == 404
        assert c.get("/impact.csv?where=python>=3").status_code == 404
        assert 'href="/build-time"' not in c.get("/").text


def test_static_files_and_unknown_names(client: Asgi) -> None:
    js = [r for _, r, _ in NAV]  # every nav entry renders
    assert js
    assert (
        client.get("/_dashboard/static/dashboard.js")
        .headers["content-type"]
        .startswith("text/javascript")
    )
    for bad in ("../__init__.py", "nope.js", "_routes.py", ".hidden.css"):
        assert client.get(f"/_dashboard/static/{bad}").status_code == 404
