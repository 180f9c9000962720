"""Searchset Bundles with `_count` paging (pure).

Pages are `_offset` windows over a stable order; `link` carries `self` and, while more match,
`next` — the same URL with the next `_offset` — so a client just follows `next`."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlencode

from app.fhir.resources import Resource

DEFAULT_COUNT = 50
MAX_COUNT = 100


class PageRequest:
    """Where this page starts, how long it is, and how to rebuild its URL."""

    def __init__(self, url: str, query: Sequence[tuple[str, str]], offset: int, count: int):
        self.url = url
        self.query = [(k, v) for k, v in query if k not in ("_offset", "_count")]
        self.offset, self.count = offset, count

    def link(self, offset: int) -> str:
        query = [*self.query, ("_count", str(self.count))]
        if offset:
            query.append(("_offset", str(offset)))
        return f"{self.url}?{urlencode(query)}"


def searchset(
    resources: Sequence[Resource],
    *,
    base: str,
    page: PageRequest | None = None,
    total: int | None = None,
) -> Resource:
    bundle: Resource = {"resourceType": "Bundle", "type": "searchset"}
    if total is not None:
        bundle["total"] = total
    if page is not None:
        links = [{"relation": "self", "url": page.link(page.offset)}]
        if total is not None and page.offset + page.count < total and page.count:
            links.append({"relation": "next", "url": page.link(page.offset + page.count)})
        bundle["link"] = links
    bundle["entry"] = [
        {
            "fullUrl": f"{base}/{r['resourceType']}/{r['id']}",
            "resource": r,
            "search": {"mode": "match"},
        }
        for r in resources
    ]
    return bundle
