"""Markdown with math, rendered to inert HTML on the server, for feedback pages.

Graders' comments and the judges' hints are Markdown with ``$...$`` / ``$$...$$`` math. The
feedback page runs no script (its CSP is ``script-src 'none'``) and loads nothing from a CDN,
so Markdown is rendered here by markdown-it-py (raw HTML off: it shows as text) and math by
latex2mathml into MathML, which browsers render natively. The result is then cleaned by nh3
with an allowlist of text, list, code and MathML elements, since a hint can quote whatever a
student's code returned.
"""

from __future__ import annotations

import html
import re

import markupsafe
import nh3

_TEXT_TAGS = {
    "p", "br", "em", "strong", "code", "pre", "ul", "ol", "li", "blockquote", "a", "hr",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "del",
}
_MATH_TAGS = {
    "math", "semantics", "annotation", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msup", "msub",
    "msubsup", "mfrac", "msqrt", "mroot", "mover", "munder", "munderover", "mtable", "mtr", "mtd",
    "mstyle", "mpadded", "mphantom", "menclose", "merror", "mfenced",
}
_ATTRIBUTES = {
    "a": {"href", "title"},
    "math": {"display", "xmlns"},
    "mo": {"stretchy", "fence", "separator", "lspace", "rspace", "form", "largeop", "movablelimits", "accent"},
    "mstyle": {"displaystyle", "scriptlevel", "mathvariant"},
    "mi": {"mathvariant"},
    "mn": {"mathvariant"},
    "mtext": {"mathvariant"},
    "mspace": {"width"},
    "mfrac": {"linethickness"},
    "mover": {"accent"},
    "munder": {"accentunder"},
    "menclose": {"notation"},
    "mtable": {"columnalign", "rowspacing", "columnspacing"},
    "mtd": {"columnalign"},
    "th": {"align"},
    "td": {"align"},
}
# $$display$$ first, then $inline$ (not \$, not spanning lines, not "$ 5 and $ 6" prices).
_MATH = re.compile(r"(?<!\\)\$\$(.+?)(?<!\\)\$\$|(?<![\\$])\$(?![\s$])([^$\n]+?)(?<![\s\\])\$(?!\d)", re.DOTALL)
MAX_CHARS = 20_000


def _markdown():
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").enable("strikethrough")


def latex_to_mathml(latex: str, display: bool = False) -> str:
    """MathML for one formula; the formula as escaped code when latex2mathml cannot read it."""
    try:
        from latex2mathml.converter import convert

        return convert(latex, display="block" if display else "inline")
    except Exception:  # noqa: BLE001 - any formula a grader types must still show
        return f"<code>{html.escape(latex)}</code>"


def render_markdown(text: str) -> markupsafe.Markup:
    """``text`` (Markdown with math) as safe HTML: MathML formulas, no raw HTML, no script."""
    text = str(text)[:MAX_CHARS]
    formulas: list[str] = []

    def stash(match: re.Match) -> str:
        display = match.group(1) is not None
        formulas.append(latex_to_mathml(match.group(1) if display else match.group(2), display))
        return f"MATHFORMULA{len(formulas) - 1}X"

    body = _markdown().render(_MATH.sub(stash, text))
    body = re.sub(r"MATHFORMULA(\d+)X", lambda m: formulas[int(m.group(1))], body)
    clean = nh3.clean(
        body,
        tags=_TEXT_TAGS | _MATH_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return markupsafe.Markup(clean)
