"""The widget's browser side, served by the app (no Node toolchain): the loader script, the frame
page, its static files, and the demo practice page.

* `GET /widget/v1/loader.js` — the script tag practices paste. Unversioned URL, so a short cache
  plus an ETag; the loader's few strings are copied in from `widget/strings.js` (one table).
* `GET /widget/v1/frame?key=pk_…[&lang=es]` — the page inside the iframe. Its CSP allows framing
  only by the setting's `allowedOrigins` (plus this origin itself, for the demo and manage
  pages); an unknown or inactive key gets `frame-ancestors 'none'`. Manage links
  (`/widget/v1/frame#manage=<token>`) carry no key and open top-level.
* `GET /widget/v1/static/{name}` — app.js, waitlist.js, app.css, strings.js (and the demo's own
  files). The frame references them as `?v=<content hash>`; with the current hash they are immutable
  for a year, otherwise revalidated (ETag, 304).
* `GET /demo[?mode=button][&lang=es]` — a mock practice website embedding the demo setting.

Every answer is precompressed (gzip when accepted) and sends `X-Content-Type-Options: nosniff`.
Files are read once and re-read when they change on disk (edit and reload while developing).
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import re
from pathlib import Path
from typing import Annotated

import asyncpg
import msgspec
from litestar import Request, Response, get
from litestar.params import FromPath, QueryParameter

from app.config import PROJECT_ROOT
from app.core.errors import not_found
from app.core.http import DbPool

WIDGET_DIR = PROJECT_ROOT / "widget"
STATIC_PATH = "/widget/v1/static"
STATIC_NAMES = frozenset({"app.js", "waitlist.js", "app.css", "strings.js", "demo.js", "demo.css"})
FRAME_ASSETS = ("app.css", "strings.js", "waitlist.js", "app.js")
MINIFIED = frozenset(
    {"app.js", "waitlist.js", "demo.js"}
)  # and loader.js; strings.js stays as written
LANGS = ("en", "es")
STRINGS_PLACEHOLDER = '{"__strings__":0}'

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, max-age=300"
_ORIGIN = re.compile(r"https?://(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::\d{1,5})?")
_MEDIA = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}  # + charset=utf-8

FRAME_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors {ancestors}"
)
DEMO_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "frame-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)

DEMO_KEY_SQL = """
SELECT s.publishable_key FROM self_scheduling_settings s
JOIN partner_grants g ON g.account_id = s.account_id
JOIN partner_clients c ON c.id = g.client_pk
WHERE c.client_id = 'cli_demo_practice' AND s.active
ORDER BY s.id LIMIT 1
"""
FIRST_ACTIVE_KEY_SQL = (
    "SELECT publishable_key FROM self_scheduling_settings WHERE active ORDER BY id LIMIT 1"
)


class Asset(msgspec.Struct, frozen=True):
    body: bytes
    gzipped: bytes
    etag: str
    version: str  # content hash, the `?v=` of versioned URLs
    media_type: str


def build(body: bytes, media_type: str) -> Asset:
    digest = hashlib.sha256(body).hexdigest()
    return Asset(
        body=body,
        gzipped=gzip.compress(body, compresslevel=9, mtime=0),
        etag=f'"{digest[:16]}"',
        version=digest[:12],
        media_type=media_type,
    )


def strip_js(source: str) -> str:
    """Comments and indentation out, one statement per line left (readable when debugging):
    drops lines that are only a `//` comment and `/* … */` blocks that start a line. The
    widget's sources keep comments on lines of their own for this."""
    out: list[str] = []
    in_block = False
    for line in source.splitlines():
        text = line.strip()
        if in_block:
            in_block = "*/" not in text
            continue
        if text.startswith("/*"):
            in_block = "*/" not in text
            continue
        if text and not text.startswith("//"):
            out.append(text)
    return "\n".join(out) + "\n"


class _Files:
    """Widget files, built once and rebuilt when a source changes (mtime + size)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[str, tuple[tuple[tuple[int, int], ...], Asset]] = {}

    def _stamp(self, *names: str) -> tuple[tuple[int, int], ...]:
        stats = [(self.root / n).stat() for n in names]
        return tuple((s.st_mtime_ns, s.st_size) for s in stats)

    def _cached(self, key: str, sources: tuple[str, ...], make) -> Asset:
        stamp = self._stamp(*sources)
        hit = self._cache.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        asset = make()
        self._cache[key] = (stamp, asset)
        return asset

    def read(self, name: str) -> bytes:
        return (self.root / name).read_bytes()

    def static(self, name: str) -> Asset:
        media = _MEDIA[Path(name).suffix]

        def make() -> Asset:
            body = self.read(name)
            if name in MINIFIED:
                body = strip_js(body.decode()).encode()
            return build(body, media)

        return self._cached(name, (name,), make)

    def strings(self) -> dict:
        """strings.js is `self.SlotproofStrings = {json};` — the JSON part, parsed."""
        text = self.read("strings.js").decode()
        start, end = text.index("{", text.index("SlotproofStrings =")), text.rindex("}")
        return json.loads(text[start : end + 1])

    def loader(self) -> Asset:
        def make() -> Asset:
            table = self.strings()
            picked = {
                lang: {k: v for k, v in table[lang].items() if k.startswith("loader")}
                for lang in LANGS
            }
            source = strip_js(self.read("loader.js").decode())
            if STRINGS_PLACEHOLDER not in source:
                raise RuntimeError("widget/loader.js lost its strings placeholder")
            body = source.replace(
                STRINGS_PLACEHOLDER, json.dumps(picked, ensure_ascii=False, separators=(",", ":"))
            )
            return build(body.encode(), _MEDIA[".js"])

        return self._cached("loader.js", ("loader.js", "strings.js"), make)

    def frame(self, lang: str) -> Asset:
        def make() -> Asset:
            page = self.read("frame.html").decode()
            page = page.replace("{{lang}}", lang).replace("{{static}}", STATIC_PATH)
            for name in FRAME_ASSETS:
                page = page.replace("{{" + name + "}}", self.static(name).version)
            return build(page.encode(), _MEDIA[".html"])

        return self._cached(f"frame.html:{lang}", ("frame.html", *FRAME_ASSETS), make)

    def demo(self, key: str | None, button_mode: bool, lang: str) -> bytes:
        page = self.read("demo.html").decode()
        mount = "" if button_mode else '<div class="widget" data-slotproof></div>'
        if key is None:
            mount = (
                '<p class="notice">No active self-scheduling setting yet: run '
                "<code>slotproof seed-demo</code> (or <code>make run</code>) and reload.</p>"
            )
        values = {
            "lang": lang,
            "key": html.escape(key or "", quote=True),
            "loader": "/widget/v1/loader.js" if key else "",
            "mount": mount,
            "mode": "button" if button_mode else "inline",
            "static": STATIC_PATH,
            "demo.css": self.static("demo.css").version,
            "demo.js": self.static("demo.js").version,
        }
        for name, value in values.items():
            page = page.replace("{{" + name + "}}", value)
        if key is None:  # no loader tag without a key
            page = re.sub(r"<script [^>]*loader\.js[^>]*></script>\s*", "", page)
        return page.encode()


FILES = _Files(WIDGET_DIR)


def _etag_matches(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match")
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return etag in tags or "*" in tags


def _send(
    request: Request, asset: Asset, cache_control: str, headers: dict[str, str] | None = None
) -> Response[bytes]:
    out = {
        "Cache-Control": cache_control,
        "ETag": asset.etag,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
        **(headers or {}),
    }
    if _etag_matches(request, asset.etag):
        return Response(b"", status_code=304, headers=out)
    body = asset.body
    if "gzip" in request.headers.get("accept-encoding", "").lower():
        body = asset.gzipped
        out["Content-Encoding"] = "gzip"
    return Response(body, media_type=asset.media_type, headers=out)


def _lang(value: str | None) -> str:
    code = (value or "").strip().lower()[:2]
    return code if code in LANGS else "en"


def csp_origins(origins: list[str] | None) -> list[str]:
    """Origins safe to place in a CSP source list (anything else is dropped, not escaped)."""
    return [o for o in origins or [] if isinstance(o, str) and _ORIGIN.fullmatch(o)]


async def frame_ancestors(pool: asyncpg.Pool, key: str | None) -> str:
    if not key or not key.startswith("pk_") or len(key) > 100:
        return "'none'"
    origins = await pool.fetchval(
        "SELECT allowed_origins FROM self_scheduling_settings WHERE publishable_key = $1"
        " AND active",
        key,
    )
    if origins is None:
        return "'none'"
    return " ".join(["'self'", *csp_origins(list(origins))])


Query = Annotated[str | None, QueryParameter(max_length=200)]


@get("/widget/v1/loader.js", include_in_schema=False, sync_to_thread=False)
def loader_js(request: Request) -> Response[bytes]:
    return _send(
        request,
        FILES.loader(),
        REVALIDATE,
        {"Cross-Origin-Resource-Policy": "cross-origin", "Access-Control-Allow-Origin": "*"},
    )


@get("/widget/v1/frame", include_in_schema=False)
async def frame_page(
    request: Request, pool: DbPool, key: Query = None, lang: Query = None
) -> Response[bytes]:
    ancestors = await frame_ancestors(pool, key)
    return _send(
        request,
        FILES.frame(_lang(lang)),
        "no-cache",
        {
            "Content-Security-Policy": FRAME_CSP.format(ancestors=ancestors),
            "Referrer-Policy": "no-referrer",
            "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
            # the ETag covers the page, not the CSP: the CSP varies with the key in the URL
        },
    )


@get(f"{STATIC_PATH}/{{name:str}}", include_in_schema=False, sync_to_thread=False)
def static_file(request: Request, name: FromPath[str], v: Query = None) -> Response[bytes]:
    if name not in STATIC_NAMES:
        raise not_found("file")
    asset = FILES.static(name)
    return _send(request, asset, IMMUTABLE if v == asset.version else REVALIDATE)


@get("/demo", include_in_schema=False)
async def demo_page(pool: DbPool, mode: Query = None, lang: Query = None) -> Response[bytes]:
    key = await pool.fetchval(DEMO_KEY_SQL) or await pool.fetchval(FIRST_ACTIVE_KEY_SQL)
    body = FILES.demo(key, mode == "button", _lang(lang))
    return Response(
        body,
        media_type=_MEDIA[".html"],
        headers={
            "Content-Security-Policy": DEMO_CSP,
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "strict-origin-when-cross-origin",
        },
    )


def asset_routes(*, demo: bool) -> list:
    """The widget's routes, and /demo unless switched off: in production it is, since it would
    show some practice's live booking widget on a page that practice never made."""
    return [loader_js, frame_page, static_file, *([demo_page] if demo else [])]
