"""The widget's browser side, served by the app (no Node toolchain): the loader script, the frame
page, its static files, and the demo practice page.

* `GET /widget/v1/loader.js` — the script tag practices paste. Unversioned URL, so a short cache
  plus an ETag; the loader's few strings are copied in from `widget/strings.js` (one table).
* `GET /widget/v1/frame?key=pk_…[&lang=es]` — the page inside the iframe. Its CSP allows framing
  only by the setting's `allowedOrigins` (plus this origin itself, for the demo and manage
  pages); an unknown or inactive key gets `frame-ancestors 'none'`. Manage links
  (`/widget/v1/frame#manage=<token>`) carry no key and open top-level.
* `GET /widget/v1/static/{name}` — app.js, app.css, strings-en.js / strings-es.js (the
  frame's language only) and the demo's own files. The frame references them as
  `?v=<content hash>`; with the current hash they are immutable for a year, otherwise
  revalidated (ETag, 304).
* app.js is built here from the ES modules under widget/src (`bundle`, no Node toolchain):
  each module becomes a function scope in import order, its `import {a, b as c} from './x.js'`
  a destructuring of x's exports. One request and one gzip stream instead of twenty (the
  per-file gzip of the modules is 40 % larger), and the sources stay plain modules that
  `node --test` imports directly.
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
STATIC_NAMES = frozenset({"app.js", "app.css", "demo.js", "demo.css"})
FRAME_ASSETS = ("app.css", "app.js")
MINIFIED = frozenset({"demo.js"})  # and loader.js and app.js's modules
MODULE_DIR = "src"  # widget/src: the frame's ES modules
MODULE_ENTRY = "main.js"
_IMPORT = re.compile(
    r"^import\s*(?:\{(?P<names>[^}]*)\}\s*from\s*)?'(?P<path>\.{1,2}/[\w./-]+\.js)';[ \t]*$",
    re.MULTILINE,
)
_EXPORT = re.compile(
    r"^export\s+(?=(?:async\s+)?(?:function\*?|const|let|class)\s+(\w+))", re.MULTILINE
)
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


def squeeze_js(source: str) -> str:
    """Whitespace out of (comment-free, semicolon-terminated) JavaScript, strings kept as they
    are: a space stays only between two identifier characters. For the loader, whose every
    byte counts against its budget; refuses a `//` comment it would run into the next line."""
    out: list[str] = []
    i, n = 0, len(source)
    word = re.compile(r"[\w$]")
    while i < n:
        char = source[i]
        if char in "'\"`":
            j = i + 1
            while source[j] != char:
                j += 2 if source[j] == "\\" else 1
            out.append(source[i : j + 1])
            i = j + 1
        elif char.isspace():
            j = i
            while j < n and source[j].isspace():
                j += 1
            if out and j < n and word.match(out[-1][-1]) and word.match(source[j]):
                out.append(" ")
            i = j
        elif source.startswith("//", i):
            raise ValueError("a // comment left in the loader")
        else:
            out.append(char)
            i += 1
    return "".join(out)


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
            source = squeeze_js(strip_js(self.read("loader.js").decode()))
            if STRINGS_PLACEHOLDER not in source:
                raise RuntimeError("widget/loader.js lost its strings placeholder")
            body = source.replace(
                STRINGS_PLACEHOLDER, json.dumps(picked, ensure_ascii=False, separators=(",", ":"))
            )
            return build(body.encode(), _MEDIA[".js"])

        return self._cached("loader.js", ("loader.js", "strings.js"), make)

    def module_names(self) -> list[str]:
        """Every module under widget/src, as paths relative to it ('steps/time.js')."""
        base = self.root / MODULE_DIR
        return sorted(p.relative_to(base).as_posix() for p in base.rglob("*.js"))

    def bundle(self) -> Asset:
        """app.js: the modules of widget/src in one script (see `bundle_modules`)."""
        names = self.module_names()

        def make() -> Asset:
            sources = {n: strip_js(self.read(f"{MODULE_DIR}/{n}").decode()) for n in names}
            return build(bundle_modules(sources, MODULE_ENTRY).encode(), _MEDIA[".js"])

        return self._cached("app.js", tuple(f"{MODULE_DIR}/{n}" for n in names), make)

    def strings_for(self, lang: str) -> Asset:
        """strings-<lang>.js: the frame's own language only (the page is per language)."""

        def make() -> Asset:
            table = {lang: self.strings()[lang]}
            body = "self.SlotproofStrings = " + json.dumps(table, ensure_ascii=False) + ";\n"
            return build(body.encode(), _MEDIA[".js"])

        return self._cached(f"strings-{lang}.js", ("strings.js",), make)

    def named(self, name: str) -> Asset:
        """A file of /widget/v1/static by name (KeyError when there is none)."""
        if name == "app.js":
            return self.bundle()
        if (lang := name.removeprefix("strings-").removesuffix(".js")) in LANGS:
            return self.strings_for(lang)
        if name not in STATIC_NAMES:
            raise KeyError(name)
        return self.static(name)

    def frame(self, lang: str) -> Asset:
        names = self.module_names()

        def make() -> Asset:
            page = self.read("frame.html").decode()
            page = page.replace("{{lang}}", lang).replace("{{static}}", STATIC_PATH)
            page = page.replace(
                "{{strings.js}}", f"strings-{lang}.js?v={self.strings_for(lang).version}"
            )
            for name in FRAME_ASSETS:
                page = page.replace("{{" + name + "}}", self.named(name).version)
            return build(page.encode(), _MEDIA[".html"])

        sources = ("frame.html", "app.css", "strings.js", *(f"{MODULE_DIR}/{n}" for n in names))
        return self._cached(f"frame.html:{lang}", sources, make)

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


def _join(importer: str, target: str) -> str:
    """The module path `target` (relative, './x.js' or '../x.js') names from `importer`."""
    parts = importer.split("/")[:-1]
    for piece in target.split("/"):
        if piece == "..":
            if not parts:
                raise ValueError(f"{importer} imports {target}, outside widget/src")
            parts.pop()
        elif piece != ".":
            parts.append(piece)
    return "/".join(parts)


def _var(name: str) -> str:
    return "$" + re.sub(r"\W", "_", name.removesuffix(".js"))


def bundle_modules(sources: dict[str, str], entry: str) -> str:
    """One classic script from ES modules that use only `import {…} from './x.js'`,
    `import './x.js'` and `export function|const|let|class` (anything else is refused with
    ValueError): each module a function scope returning its exports, in dependency order
    from `entry` (a cycle, a missing module or a module `entry` never reaches is refused)."""
    order: list[str] = []
    visiting: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise ValueError(f"widget modules import each other in a cycle: {[*visiting, name]}")
        if name not in sources:
            raise ValueError(f"no module {name}")
        visiting.append(name)
        for match in _IMPORT.finditer(sources[name]):
            visit(_join(name, match["path"]))
        visiting.pop()
        order.append(name)

    visit(entry)
    if unused := sorted(set(sources) - set(order)):
        raise ValueError(f"modules main.js never imports: {unused}")
    parts = ["(() => {", "'use strict';"]
    for name in order:
        source = sources[name]

        def imported(match: re.Match[str], importer: str = name) -> str:
            if match["names"] is None:
                return ""  # imported for its effect: it runs earlier in the order
            names = ", ".join(
                n.strip().replace(" as ", ": ") for n in match["names"].split(",") if n.strip()
            )
            return f"const {{ {names} }} = {_var(_join(importer, match['path']))};"

        body = _IMPORT.sub(imported, source)
        exported = _EXPORT.findall(body)
        body = _EXPORT.sub("", body)
        if re.search(r"^\s*(?:import|export)\b", body, re.MULTILINE):
            raise ValueError(f"{name}: an import or export form the bundler does not know")
        parts.append(
            f"const {_var(name)} = (() => {{\n{body}return {{ {', '.join(exported)} }};\n}})();"
        )
    parts.append("})();")
    return "\n".join(parts) + "\n"


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
    try:
        asset = FILES.named(name)
    except KeyError:
        raise not_found("file") from None
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
