"""The pages, each assembled from the one shared head and the page's own body.

Every page is ``static/shell.html`` (the ``<head>`` all pages share: charset, viewport,
title, style sheet, manifest) with three places filled in by plain string substitution:
``{{styles}}`` (the page's own style sheets, from :data:`PAGES`), ``{{page}}`` (the page's
one ES module, ``static/pages/<page>.js``) and ``{{body}}`` (``static/pages/<page>.html``,
the page's ``<body ...>...</body>``). No template engine: the pages carry no data (their
module fetches it), so a page is assembled once, at its first request, and kept.

A page is answered ``no-cache`` so that browsers check it anew on every visit. Nothing is
inline (no script, no style attribute): the CSP is ``default-src 'self'``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fastapi.responses import HTMLResponse

STATIC = Path(__file__).resolve().parents[1] / "static"
SHELL = STATIC / "shell.html"
PAGE_FILES = STATIC / "pages"
PLACES = ("{{styles}}", "{{page}}", "{{body}}")
"""Where the shell takes a page's parts; a page's body must hold none of them."""


@dataclass(frozen=True, slots=True)
class Page:
    """A page: its name (``pages/<name>.html`` and ``pages/<name>.js``) and the style sheets
    of ``static/`` it needs besides style.css."""

    name: str
    styles: tuple[str, ...] = ()


PAGES: dict[str, Page] = {
    page.name: page
    for page in (
        Page("login"),
        Page("alerts"),
        Page("cameras"),
        Page("camera"),
        Page("wall_live", styles=("wall_live.css",)),
        Page("reanalysis"),
        Page("plates"),
        Page("search", styles=("search.css",)),
        Page("cases", styles=("cases.css",)),
        Page("notifications"),
        Page("audit"),
        Page("users"),
        Page("hub", styles=("hub.css",)),
    )
}
"""Every page the dashboard serves, by name (``hub``: the district hub's app,
:mod:`dashboard.hub.app`, not the station's)."""


@cache
def assembled(name: str) -> str:
    """The whole HTML of the page ``name`` (read from disk once, then kept)."""
    page = PAGES[name]
    body = (PAGE_FILES / f"{page.name}.html").read_text(encoding="utf-8")
    if any(place in body for place in PLACES):
        raise ValueError(f"pages/{page.name}.html holds a place of the shell")
    styles = "".join(f'  <link rel="stylesheet" href="/static/{sheet}">\n' for sheet in page.styles)
    html = SHELL.read_text(encoding="utf-8")
    for place, text in zip(PLACES, (styles, page.name, body), strict=True):
        html = html.replace(place, text)  # the body last: nothing is looked for in it
    return html


def page(name: str) -> HTMLResponse:
    """The page ``name`` (a key of :data:`PAGES`), answered ``no-cache``."""
    return HTMLResponse(assembled(name), headers={"Cache-Control": "no-cache"})
