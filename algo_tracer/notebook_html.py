"""HTML for notebook displays (`_repr_html_`): escaped tables, and the link to the web page.

Everything shown comes from records someone else wrote (labels, messages, stage details,
addresses), so every text goes through `html.escape` here, once, and nothing else builds HTML.

The link: with ``ALGO_TRACER_WEB_URL`` set to where `algo-tracer serve` runs (for example
``http://127.0.0.1:8000``), summaries, reports and timelines link to the experiment's page
(``<url>/?app=N&id=<base58>``, docs/web.md). A value that is not an http(s) URL is shown as a
note naming the fix instead of a link: a display must never raise.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable, Sequence
from urllib.parse import urlencode, urlsplit

__all__ = ["WEB_URL_VAR", "block", "escape", "table", "web_link", "web_url"]

#: Where `algo-tracer serve` runs, for links from notebook displays to the web page.
WEB_URL_VAR = "ALGO_TRACER_WEB_URL"

# Scoped to our own blocks, so a notebook's theme is left alone; `table.at` is specific enough to
# beat JupyterLab's right-aligned cells (`:not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon td`).
# Colours that read on light and dark themes alike.
_STYLE = ("<style>div.algo-tracer table{border-collapse:collapse;margin:.3em 0}"
          "div.algo-tracer table.at th,div.algo-tracer table.at td{text-align:left;"
          "padding:.15em .6em;vertical-align:top}"
          "div.algo-tracer .pass{color:#1a7f37;font-weight:600}"
          "div.algo-tracer .fail{color:#cf222e;font-weight:600}"
          "div.algo-tracer .skip,div.algo-tracer .note{color:#888}"
          "div.algo-tracer code{font-size:.9em}</style>")


def escape(value: object) -> str:
    """`value` as text, safe inside HTML elements and attribute values."""
    return html.escape("" if value is None else str(value), quote=True)


def table(header: Sequence[str], rows: Iterable[Sequence[object]],
          classes: Iterable[str | None] | None = None, *, mark: int = 0) -> str:
    """A table with one escaped cell per value; `classes` optionally tags each row's `mark`
    column (its status: pass, fail, skip), so only that cell is coloured."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    tags = iter(classes) if classes is not None else None
    body = []
    for row in rows:
        tag = next(tags, None) if tags is not None else None
        cells = []
        for i, value in enumerate(row):
            attr = f' class="{escape(tag)}"' if tag and i == mark % len(row) else ""
            cells.append(f"<td{attr}>{escape(value)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (f'<table class="at"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def block(*parts: str) -> str:
    """Our parts (already HTML) in one styled block."""
    return f'<div class="algo-tracer">{_STYLE}{"".join(parts)}</div>'


def web_url(app_id: int, experiment_id: str) -> str | None:
    """The experiment's page on the configured web server; None when none is configured.

    Raises:
        ValueError: ``ALGO_TRACER_WEB_URL`` is set but is not an http(s) URL.
    """
    base = os.environ.get(WEB_URL_VAR, "").strip()
    if not base:
        return None
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{WEB_URL_VAR}={base!r} is not an http(s) URL")
    return f"{base.split('?')[0].rstrip('/')}/?{urlencode({'app': app_id, 'id': experiment_id})}"


def web_link(app_id: int, experiment_id: str) -> str:
    """A paragraph linking to the experiment's web page, a note if the setting is wrong, or ''."""
    try:
        url = web_url(app_id, experiment_id)
    except ValueError as exc:
        return (f'<p class="note">no link to the web page: {escape(exc)}; set it to where '
                f"<code>algo-tracer serve</code> runs, e.g. http://127.0.0.1:8000</p>")
    if url is None:
        return ""
    return f'<p><a href="{escape(url)}" target="_blank">open on the web page</a></p>'
