"""The OpenAPI UI at `/schema`: Swagger UI from the `swagger-ui-bundle-v2` wheel, served by the
app itself, so it works offline and loads nothing from a CDN (Litestar's default pages do)."""

from __future__ import annotations

import gzip
import hashlib
from functools import cache
from pathlib import Path

from litestar import Request, Response, get
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.params import FromPath
from swagger_ui_bundle import swagger_ui_path

from app.core.errors import not_found

ASSET_PATH = "/schema-ui"
MEDIA = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui-standalone-preset.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}


@cache
def _asset(name: str) -> tuple[bytes, bytes, str]:
    """(body, gzipped body, version) of one file of the bundle, read once."""
    body = (Path(swagger_ui_path) / name).read_bytes()
    return body, gzip.compress(body, mtime=0), hashlib.sha256(body).hexdigest()[:12]


def _url(name: str) -> str:
    return f"{ASSET_PATH}/{name}?v={_asset(name)[2]}"


def render_plugin() -> SwaggerRenderPlugin:
    return SwaggerRenderPlugin(
        js_url=_url("swagger-ui-bundle.js"),
        css_url=_url("swagger-ui.css"),
        standalone_preset_js_url=_url("swagger-ui-standalone-preset.js"),
        favicon=f"<link rel='icon' type='image/png' href='{_url('favicon-32x32.png')}'>",
        path="/swagger",
    )


@get(f"{ASSET_PATH}/{{name:str}}", include_in_schema=False, sync_to_thread=False)
def openapi_ui_asset(request: Request, name: FromPath[str]) -> Response[bytes]:
    if name not in MEDIA:
        raise not_found("file")
    body, gzipped, _ = _asset(name)
    headers = {"Cache-Control": "public, max-age=86400", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", "").lower():
        body = gzipped
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=MEDIA[name], headers=headers)
