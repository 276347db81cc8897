"""Rendering sections to one self-contained HTML page (inline CSS, no scripts, no network) and to Markdown.

Figures are referenced by relative file name (``<name>.png`` beside ``index.html``) so that the ``reports/``
folder can be copied, served or opened from disk as is.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

from .common import Figure, Section, Table

__all__ = ["CSS", "render_html", "render_markdown", "table_markdown"]

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{border-bottom:2px solid #444}h2{border-bottom:1px solid #bbb;margin-top:2em}
figure{margin:1.2em 0}figure img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:.92em;color:#444;margin-top:.3em}figcaption b{color:#000}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0}th,td{border:1px solid #ccc;padding:.25em .5em;
text-align:left;vertical-align:top}th{background:#f2f2f2}
.caption{font-size:.92em;color:#444}.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.4em .8em}
.headline td:first-child{font-weight:600}nav ul{columns:2}
.cols{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start}
"""


def _table_html(t: Table) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in t.header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in t.rows)
    return (f'<h3 id="{html.escape(t.name)}">{html.escape(t.title)}</h3>'
            f'<p class="caption">{html.escape(t.caption)}</p>'
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def _figure_html(f: Figure) -> str:
    return (f'<figure id="{html.escape(f.name)}"><img src="{html.escape(f.name)}.png" alt="{html.escape(f.title)}">'
            f"<figcaption><b>{html.escape(f.title)}.</b> {html.escape(f.caption)}</figcaption></figure>")


def render_html(title: str, subtitle: str, headline: Sequence[tuple[str, str]], sections: Sequence[Section],
                provenance: Mapping[str, str]) -> str:
    """The whole page: title, headline figures, a table of contents, every section, and the input provenance."""
    toc = "".join(f'<li><a href="#{html.escape(s.key)}">{html.escape(s.title)}</a></li>' for s in sections)
    half = (len(headline) + 1) // 2
    head_tables = "".join(
        '<table class="headline"><tbody>'
        + "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in part)
        + "</tbody></table>"
        for part in (headline[:half], headline[half:]) if part)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><p>{html.escape(subtitle)}</p>",
        f'<h2 id="headline">Headline figures</h2><div class="cols">{head_tables}</div>',
        f"<nav><h2>Contents</h2><ul>{toc}</ul></nav>",
    ]
    for s in sections:
        parts.append(f'<section><h2 id="{html.escape(s.key)}">{html.escape(s.title)}</h2>'
                     f"<p>{html.escape(s.intro)}</p>")
        for item in s.items:
            if isinstance(item, Figure):
                parts.append(_figure_html(item))
            elif isinstance(item, Table):
                parts.append(_table_html(item))
            else:
                parts.append(f'<p class="note">{html.escape(str(item))}</p>')
        parts.append("</section>")
    prov = "".join(f"<tr><td>{html.escape(k)}</td><td><code>{html.escape(v)}</code></td></tr>"
                   for k, v in provenance.items())
    parts.append(f'<h2 id="provenance">Inputs</h2><table><tbody>{prov}</tbody></table></body></html>')
    return "\n".join(parts) + "\n"


def _md_cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def table_markdown(t: Table) -> str:
    lines = [f"### {t.title}", "", t.caption, "", "| " + " | ".join(_md_cell(h) for h in t.header) + " |",
             "|" + "---|" * len(t.header)]
    lines += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in t.rows]
    return "\n".join(lines) + "\n"


def render_markdown(title: str, subtitle: str, headline: Sequence[tuple[str, str]], sections: Sequence[Section],
                    provenance: Mapping[str, str]) -> str:
    """``summary.md``: headline figures, every table, and the list of figures with their captions."""
    out = [f"# {title}", "", subtitle, "", "## Headline figures", "", "| quantity | value |", "|---|---|"]
    out += [f"| {_md_cell(k)} | {_md_cell(v)} |" for k, v in headline]
    for s in sections:
        out += ["", f"## {s.title}", "", s.intro, ""]
        for item in s.items:
            if isinstance(item, Figure):
                out.append(f"- ![{item.title}]({item.name}.png) **{item.title}.** {item.caption}")
            elif isinstance(item, Table):
                out += ["", table_markdown(item)]
            else:
                out += ["", f"> {item}", ""]
    out += ["", "## Inputs", ""] + [f"- {k}: `{v}`" for k, v in provenance.items()]
    return "\n".join(out) + "\n"
