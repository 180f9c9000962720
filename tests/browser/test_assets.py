"""The widget's assets as served (no browser needed, so these run even without Chromium): size
budgets, caching, compression, the frame's CSP per key, the demo page, and the string table."""

from __future__ import annotations

import gzip
import re

import asyncpg
import httpx

from app.embed.assets import FILES, WIDGET_DIR, csp_origins
from tests.builders import build_practice
from tests.conftest import TEST_SECRET_KEY
from tests.support import Partner

LOADER_BUDGET = 1800  # gzipped (issue 13: 1.8 KB)
FRAME_BUDGET = 30 * 1024  # gzipped: frame page + app.css + strings.js + every module
GZ = {"Accept-Encoding": "gzip"}
# HTML from strings, code from strings, style attributes, cookies or storage: none in the widget
FORBIDDEN = (
    "innerHTML",
    "eval(",
    "new Function",
    "setAttribute('style'",
    ".cookie",
    "localStorage",
)


def gz_size(body: bytes) -> int:
    return len(gzip.compress(body, compresslevel=9))


async def test_size_budgets(client: httpx.AsyncClient) -> None:
    loader = (await client.get("/widget/v1/loader.js")).content
    assert gz_size(loader) <= LOADER_BUDGET, gz_size(loader)
    frame = (await client.get("/widget/v1/frame")).text
    total = gz_size(frame.encode())
    paths = re.findall(r'(?:src|href)="(/widget/v1/static/[^"]+)"', frame)
    assert [p.split("?")[0].rsplit("/", 1)[1] for p in paths] == [
        "app.css",
        "strings-en.js",
        "app.js",
    ]
    for path in paths:
        response = await client.get(path)
        assert response.status_code == 200, path
        total += gz_size(response.content)
    assert total <= FRAME_BUDGET, total


async def test_loader_carries_its_strings_and_caches_briefly(client: httpx.AsyncClient) -> None:
    response = await client.get("/widget/v1/loader.js", headers=GZ)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["cross-origin-resource-policy"] == "cross-origin"
    body = response.text  # httpx decompresses
    assert '"__strings__"' not in body
    assert '"loaderBook":"Book online"' in body and '"loaderBook":"Reservar cita"' in body
    again = await client.get(
        "/widget/v1/loader.js", headers={"If-None-Match": response.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""


async def test_static_files_are_immutable_when_versioned(client: httpx.AsyncClient) -> None:
    frame = (await client.get("/widget/v1/frame")).text
    versioned = re.findall(r'"(/widget/v1/static/app\.js\?v=[0-9a-f]+)"', frame)
    assert len(versioned) == 1
    response = await client.get(versioned[0])
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["x-content-type-options"] == "nosniff"
    # the modules of widget/src, each in its own scope, main.js last
    scopes = re.findall(r"^const (\$\w+) = \(\(\) => \{$", response.text, re.MULTILINE)
    assert len(scopes) == len(FILES.module_names()) and scopes[-1] == "$main"
    plain = await client.get("/widget/v1/static/app.js")
    assert plain.headers["cache-control"] == "public, max-age=300"
    assert plain.content == response.content
    stale = await client.get("/widget/v1/static/app.js?v=000000000000")
    assert stale.headers["cache-control"] == "public, max-age=300"
    spanish = await client.get("/widget/v1/static/strings-es.js")
    assert '"es":' in spanish.text and '"en":' not in spanish.text
    etag = response.headers["etag"]
    assert (await client.get(versioned[0], headers={"If-None-Match": etag})).status_code == 304
    missing = await client.get("/widget/v1/static/..%2Fapp%2Fconfig.py")
    assert missing.status_code == 404
    for bad in ("src%2Fmain.js", "strings-fr.js", "strings.js", "loader.js", "main.py"):
        assert (await client.get(f"/widget/v1/static/{bad}")).status_code == 404, bad
    assert (await client.get("/widget/v1/static/frame.html")).status_code == 404


async def test_frame_csp_follows_the_setting(
    client: httpx.AsyncClient, partner: Partner, pool: asyncpg.Pool
) -> None:
    practice = await build_practice(partner)

    async def ancestors(key: str | None) -> str:
        params = {"key": key} if key else {}
        response = await client.get("/widget/v1/frame", params=params)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        csp = dict(
            [*d.strip().split(" ", 1), ""][:2]
            for d in response.headers["content-security-policy"].split(";")
        )
        assert csp["default-src"] == "'self'" and csp["script-src"] == "'self'"
        assert csp["style-src"] == "'self'" and csp["connect-src"] == "'self'"
        assert csp["img-src"] == "'self' https: data:"
        assert response.headers["referrer-policy"] == "no-referrer"
        return csp["frame-ancestors"]

    assert await ancestors(practice.publishable_key) == "'self' http://127.0.0.1:8000"
    assert await ancestors(None) == "'none'"
    assert await ancestors("pk_does_not_exist") == "'none'"
    assert await ancestors("not-a-key") == "'none'"
    await pool.execute(
        "UPDATE self_scheduling_settings SET active = false WHERE id = $1", practice.setting_id
    )
    assert await ancestors(practice.publishable_key) == "'none'"


def test_only_plain_origins_reach_the_csp() -> None:
    assert csp_origins(
        [
            "https://clinic.example.com",
            "http://127.0.0.1:8000",
            "http://[::1]:8080",
            "https://a.example; script-src *",
            "https://*.example.com",
            "javascript:alert(1)",
            "https://ok.example/path",
            "'unsafe-inline'",
        ]
    ) == ["https://clinic.example.com", "http://127.0.0.1:8000", "http://[::1]:8080"]


async def test_demo_page_embeds_the_demo_setting(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    from app.demo import seed_demo

    demo = await seed_demo(pool, TEST_SECRET_KEY)
    response = await client.get("/demo")
    assert response.status_code == 200
    page = response.text
    assert f'data-key="{demo.publishable_key}"' in page
    assert 'src="/widget/v1/loader.js"' in page and "data-slotproof" in page
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "frame-src 'self'" in csp
    button = (await client.get("/demo?mode=button")).text
    assert "data-slotproof" not in button.split("<body", 1)[1].split("<pre", 1)[0]
    assert '<html lang="es">' in (await client.get("/demo?lang=es")).text


async def test_no_inline_script_or_style_anywhere(client: httpx.AsyncClient) -> None:
    pages = [(await client.get(path)).text for path in ("/widget/v1/frame", "/demo")]
    for page in pages:
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), "inline <script>"
        assert "<style" not in page and not re.search(r"\sstyle=", page)
        assert not re.search(r"\son[a-z]+=", page), "inline event handler"
    for name, source in widget_sources().items():
        for forbidden in FORBIDDEN:
            assert forbidden not in source, (name, forbidden)
        # the attempt token survives a reload in sessionStorage: state.js alone, nothing else
        if name != "src/state.js":
            assert "sessionStorage" not in source, name


def widget_sources() -> dict[str, str]:
    """The loader, the demo's script and every module of the frame."""
    files = ["loader.js", "demo.js", *(f"src/{n}" for n in FILES.module_names())]
    return {name: (WIDGET_DIR / name).read_text() for name in files}


def t_keys(source: str) -> set[str]:
    """Every string key a t(...) call can ask for: each quoted name in its first argument
    (`t('a')`, `t(x ? 'a' : 'b')`, `t(ok ? 'a' : cond ? 'b' : 'c', vars)`)."""
    keys: set[str] = set()
    for start in (m.end() for m in re.finditer(r"\bt\(", source)):
        depth, end = 0, start
        while end < len(source):
            char = source[end]
            if char in "([{":
                depth += 1
            elif char in ")]}":
                if depth == 0:
                    break
                depth -= 1
            elif char == "," and depth == 0:
                break
            end += 1
        keys |= set(re.findall(r"'([a-z][A-Za-z_]*)'", source[start:end]))
    return keys


def test_every_string_exists_in_english_and_spanish() -> None:
    table = FILES.strings()
    assert set(table) == {"en", "es"}
    assert set(table["en"]) == set(table["es"])
    for lang in ("en", "es"):
        for key, text in table[lang].items():
            placeholders = set(re.findall(r"\{(\w+)\}", str(text)))
            assert placeholders == set(re.findall(r"\{(\w+)\}", str(table["en"][key]))), key
    used: set[str] = set()
    for source in widget_sources().values():
        used |= t_keys(source)
    assert {"codeWrong", "codeExpired", "contactEmailTitle", "contactPhoneTitle"} <= used
    # names picked from a list before t(name): the service step's required choices and the
    # date-of-birth field labels
    used |= {"needService", "needLocation", "month", "day", "year"}
    missing = sorted(k for k in used if k not in table["en"])
    assert not missing, missing
    unused = sorted(
        k
        for k in table["en"]
        if k not in used
        and not k.startswith(("loader", "status_"))
        and k not in ("locale", "dayPeriods", "weekStart", "dobOrder")
    )
    assert not unused, unused  # a string no code asks for
