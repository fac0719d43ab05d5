"""Make a graded notebook safe to open in the instructor's browser (the formgrader).

Everything in a submitted notebook is the student's: Markdown answers (which may hold raw
HTML), outputs (which the student's code chose, MIME type and all), attachments, metadata,
cell ids. nbgrader's formgrader renders the autograded notebook with nbconvert's HTML exporter
and does *not* sanitise Markdown cells, so a ``<script>`` in a written answer would run in the
instructor's Jupyter session. :func:`sanitise_notebook` rewrites the notebook the formgrader
will render so that nothing in it can run, while the marker still reads every answer:

- Markdown cells are parsed with the very parser nbconvert renders them with (mistune with
  nbconvert's math and table plugins). Text, formulas, tables, lists, code and pasted images
  stay as they are. Raw HTML blocks are replaced by what the nh3 sanitiser (Ammonia) keeps of
  them; raw inline tags other than a few bare formatting tags (``<b>``, ``<br>``, ...) are
  shown as text. Links and images may only use http(s), mailto, in-page anchors and the
  cell's own image attachments. Should the result still hold anything else, the whole cell is
  shown verbatim as text (a fenced block) with a note, so the marker can still read it.
- Outputs keep plain text, PNG and JPEG images (plots) and nh3-sanitised HTML (tables); every
  other MIME type (JavaScript, SVG, widgets, Markdown, LaTeX, unknown ones) is dropped, with
  a plain-text note where nothing else is left. Output metadata keeps only numeric sizes.
- Attachments keep only valid base64 PNG, JPEG or GIF images; raw cells are nh3-sanitised;
  cell and notebook metadata keep only what grading and rendering need (nbgrader metadata
  whose grade ids are plain names, string tags); unsafe cell ids are replaced.

The function never changes its argument: it returns a sanitised copy and a list of what was
removed or rewritten, one line each, for a human to read.
"""

from __future__ import annotations

import base64
import binascii
import copy
import html
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import nh3
from nbformat import NotebookNode

__all__ = ["sanitise_notebook", "sanitise_html", "sanitise_markdown", "SAFE_OUTPUT_TYPES"]

# --- HTML (text/html outputs, raw cells, raw HTML blocks in Markdown) -----------------------

_TAGS = (set(nh3.ALLOWED_TAGS) - {"area", "map"}) | {"input"}
_HEADINGS = {f"h{n}": {"id"} for n in range(1, 7)}
_ATTRIBUTES: dict[str, set[str]] = {
    "*": {"class", "title", "lang", "dir"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "table": {"border"},
    "td": {"style", "colspan", "rowspan", "align"},
    "th": {"style", "colspan", "rowspan", "align"},
    "tr": {"style"},
    "ol": {"start"},
    "input": {"type", "disabled", "checked"},  # Markdown task lists
    **_HEADINGS,
}
_URL_SCHEMES = {"http", "https", "mailto", "data"}
_SAFE_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif")
_DATA_IMAGE = tuple(f"data:{mime};base64," for mime in _SAFE_IMAGE_TYPES)


def _attribute_filter(element: str, attribute: str, value: str) -> str | None:
    """Second pass over the attributes nh3 allowed: data URLs only for images, checkboxes only."""
    if attribute in ("href", "src") and value.strip().lower().startswith("data:"):
        return value if element == "img" and value.strip().lower().startswith(_DATA_IMAGE) else None
    if element == "input" and attribute == "type":
        return value if value.lower() == "checkbox" else None
    return value


_CLEANER = nh3.Cleaner(
    tags=_TAGS,
    clean_content_tags={"script", "style"},
    attributes=_ATTRIBUTES,
    attribute_filter=_attribute_filter,
    url_schemes=_URL_SCHEMES,
    link_rel=None,
    strip_comments=True,
    filter_style_properties={"text-align"},
)


def sanitise_html(fragment: str) -> str:
    """An HTML fragment with everything that can run removed (nh3 / Ammonia, an allowlist)."""
    return _CLEANER.clean(fragment)


# --- Markdown --------------------------------------------------------------------------------

# Raw inline tags kept as they are: bare formatting tags, no attributes, nothing that can run.
_BARE = ("b", "i", "em", "strong", "u", "s", "del", "ins", "sub", "sup", "mark", "small", "kbd", "code", "span", "p", "center")
_BARE_TAGS = {f"<{t}>" for t in _BARE} | {f"</{t}>" for t in _BARE} | {"<br>", "<br/>", "<br />", "<hr>", "<hr/>", "<hr />"}
_VERBATIM_NOTE = (
    "*[Shown as text by the grader: this answer held markup that could run in a browser "
    "(for example a script, an event handler or a `javascript:` link).]*"
)


def _markdown_parser():
    from nbconvert.filters.markdown_mistune import MarkdownWithMath

    return MarkdownWithMath(renderer=None)  # the parser nbconvert's markdown2html renders with


def _tokens(tokens: list[dict]) -> Iterator[dict]:
    """Every token of a mistune AST, in document order."""
    for token in tokens:
        yield token
        yield from _tokens(token.get("children") or [])


def _safe_link(url: str, image: bool, attachments: dict) -> bool:
    """Whether a Markdown link or image target is inert: http(s), mailto, anchors, own images."""
    plain = "".join(ch for ch in html.unescape(url) if ch > " " and ch != "\x7f")
    lowered = plain.lower()
    if image and lowered.startswith("attachment:"):
        return plain[len("attachment:"):] in attachments
    if image and lowered.startswith(_DATA_IMAGE):
        return True
    head = re.split(r"[/?#]", plain, maxsplit=1)[0]
    if ":" not in head:
        return True  # relative: this page's own files or an anchor
    scheme = head.split(":", 1)[0].lower()
    return scheme in ("http", "https") or (scheme == "mailto" and not image)


def _problems(source: str, attachments: dict) -> list[str]:
    """What in a Markdown source could still run once nbconvert renders it (empty: nothing)."""
    problems = []
    for token in _tokens(_markdown_parser()(source)):
        kind = token.get("type")
        if kind == "inline_html" and token["raw"].strip().lower() not in _BARE_TAGS:
            problems.append(f"inline HTML shown as text: {token['raw'][:60]!r}")
        elif kind == "block_html" and sanitise_html(token["raw"]).strip() != token["raw"].strip():
            problems.append(f"HTML block sanitised: {token['raw'][:60]!r}")
        elif kind in ("link", "image"):
            url = token.get("attrs", {}).get("url", "")
            if not _safe_link(url, kind == "image", attachments):
                problems.append(f"unsafe {kind} target: {url[:60]!r}")
    return problems


def _escape(raw: str) -> str:
    return raw.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _rewrite_html(source: str) -> str:
    """The source with raw HTML blocks sanitised by nh3 and unusual inline tags shown as text."""
    out, cursor = [], 0
    for token in _tokens(_markdown_parser()(source)):
        kind = token.get("type")
        if kind not in ("inline_html", "block_html"):
            continue
        raw = token["raw"].rstrip("\n") if kind == "block_html" else token["raw"]
        if kind == "inline_html" and raw.strip().lower() in _BARE_TAGS:
            continue
        at = source.find(raw, cursor)
        if at < 0:
            continue  # the check that follows catches whatever this leaves
        if kind == "block_html":
            # nh3's output must not open new Markdown blocks: keep it on the block's lines.
            replacement = re.sub(r"\n\s*\n", "\n", sanitise_html(raw))
        else:
            replacement = _escape(raw)
        out.append(source[cursor:at] + replacement)
        cursor = at + len(raw)
    out.append(source[cursor:])
    return "".join(out)


def _verbatim(source: str) -> str:
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", source)), default=0))
    return f"{_VERBATIM_NOTE}\n\n{fence}text\n{source}\n{fence}"


def sanitise_markdown(source: str, attachments: dict | None = None) -> tuple[str, list[str]]:
    """A Markdown source nbconvert renders inert, and what had to change (empty: unchanged)."""
    attachments = attachments or {}
    found = _problems(source, attachments)
    if not found:
        return source, []
    rewritten = _rewrite_html(source)
    if not _problems(rewritten, attachments):
        return rewritten, found
    return _verbatim(source), found + ["shown verbatim as text"]


# --- Outputs, attachments, metadata ----------------------------------------------------------

SAFE_OUTPUT_TYPES = ("text/plain", "image/png", "image/jpeg", "text/html")
MAX_IMAGE_BYTES = 1 << 20  # one image output kept in a graded notebook, at most
_SAFE_ID = re.compile(r"[A-Za-z0-9_.-]{1,128}")


def _valid_base64(data: object) -> bool:
    if isinstance(data, list):
        data = "".join(data)
    if not isinstance(data, str):
        return False
    try:
        base64.b64decode("".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _text(value: object) -> str:
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return str(value)


def _sanitise_bundle(data: dict, removed: list[str], where: str) -> dict:
    kept: dict = {}
    dropped: list[str] = []  # notes standing in for images over MAX_IMAGE_BYTES
    for mime, value in data.items():
        if mime in ("text/plain",):
            kept[mime] = _text(value)
        elif mime in ("image/png", "image/jpeg") and _valid_base64(value):
            encoded = "".join(_text(value).split())
            if len(encoded) * 3 // 4 > MAX_IMAGE_BYTES:  # a figure the formgrader page need not carry
                removed.append(f"{where}: removed a {mime} image over {MAX_IMAGE_BYTES >> 20} MiB")
                dropped.append(f"[a {mime} image of {len(encoded) * 3 // 4 >> 10} KiB was removed by the grader: over {MAX_IMAGE_BYTES >> 20} MiB]")
            else:
                kept[mime] = encoded
        elif mime == "text/html":
            raw = _text(value)
            clean = sanitise_html(raw)
            if clean.strip() != raw.strip():
                removed.append(f"{where}: sanitised its text/html output")
            kept[mime] = clean
        else:
            removed.append(f"{where}: removed a {mime} output")
    if dropped:
        kept["text/plain"] = "\n".join(dropped)
    if not kept:
        kept["text/plain"] = "[output removed by the grader: it could run code in a browser]"
    return kept


def _output_metadata(metadata: dict) -> dict:
    kept: dict = {}
    for mime in ("image/png", "image/jpeg"):
        sizes = metadata.get(mime)
        if isinstance(sizes, dict):
            numeric = {k: v for k, v in sizes.items() if k in ("width", "height") and isinstance(v, (int, float)) and not isinstance(v, bool)}
            if numeric:
                kept[mime] = numeric
    return kept


def _sanitise_output(output: dict, removed: list[str], where: str) -> dict | None:
    kind = output.get("output_type")
    if kind == "stream":
        name = output.get("name") if output.get("name") in ("stdout", "stderr") else "stdout"
        return NotebookNode(output_type="stream", name=name, text=_text(output.get("text", "")))
    if kind == "error":
        return NotebookNode(
            output_type="error",
            ename=_text(output.get("ename", "")),
            evalue=_text(output.get("evalue", "")),
            traceback=[_text(line) for line in output.get("traceback", []) if isinstance(line, str)],
        )
    if kind in ("display_data", "execute_result"):
        clean = NotebookNode(
            output_type=kind,
            data=NotebookNode(_sanitise_bundle(dict(output.get("data", {})), removed, where)),
            metadata=NotebookNode(_output_metadata(dict(output.get("metadata", {})))),
        )
        if kind == "execute_result":
            count = output.get("execution_count")
            clean["execution_count"] = count if isinstance(count, int) and not isinstance(count, bool) else None
        return clean
    removed.append(f"{where}: removed an output of type {kind!r}")
    return None


_EMPTY_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


def _attachments(attachments: dict, removed: list[str], where: str) -> dict:
    kept: dict = {}
    for name, bundle in (attachments or {}).items():
        images = {m: "".join(_text(v).split()) for m, v in (bundle or {}).items() if m in _SAFE_IMAGE_TYPES and _valid_base64(v)}
        if isinstance(name, str) and images:
            kept[name] = NotebookNode(images)
        else:  # an empty image in its place keeps the cell's Markdown rendering
            removed.append(f"{where}: replaced attachment {str(name)[:60]!r} by an empty image (not a PNG, JPEG or GIF image)")
            if isinstance(name, str):
                kept[name] = NotebookNode({"image/png": _EMPTY_PNG})
    return kept


def _cell_metadata(metadata: dict, removed: list[str], where: str) -> dict:
    kept: dict = {}
    grading = metadata.get("nbgrader")
    if isinstance(grading, dict):
        if all(_SAFE_ID.fullmatch(str(grading[key])) for key in ("grade_id",) if key in grading):
            kept["nbgrader"] = copy.deepcopy(grading)
        else:
            removed.append(f"{where}: removed nbgrader metadata with an unsafe grade id")
    tags = metadata.get("tags")
    if isinstance(tags, list):
        kept["tags"] = [t for t in tags if isinstance(t, str) and _SAFE_ID.fullmatch(t)]
    return kept


def sanitise_notebook(nb: NotebookNode) -> tuple[NotebookNode, list[str]]:
    """A copy of ``nb`` that the formgrader renders inert, and what was removed or rewritten."""
    nb = copy.deepcopy(nb)
    removed: list[str] = []
    nb.metadata = NotebookNode({k: v for k, v in nb.metadata.items() if k in ("kernelspec", "language_info")})
    cells = []
    for index, cell in enumerate(nb.cells):
        where = f"cell {index + 1}"
        cell_id = cell.get("id")
        if cell_id is not None and not (isinstance(cell_id, str) and _SAFE_ID.fullmatch(cell_id) and len(cell_id) <= 64):
            cell["id"] = f"sanitised-{index}"
            removed.append(f"{where}: replaced an unsafe cell id")
        cell.metadata = NotebookNode(_cell_metadata(dict(cell.get("metadata", {})), removed, where))
        kind = cell.get("cell_type")
        if kind == "markdown":
            if "attachments" in cell:
                cell.attachments = NotebookNode(_attachments(cell.attachments, removed, where))
            cell.source, found = sanitise_markdown(_text(cell.source), cell.get("attachments"))
            removed += [f"{where}: {item}" for item in found]
        elif kind == "code":
            cell.source = _text(cell.source)
            outputs = [_sanitise_output(o, removed, where) for o in cell.get("outputs", [])]
            cell.outputs = [o for o in outputs if o is not None]
            count = cell.get("execution_count")
            cell.execution_count = count if isinstance(count, int) and not isinstance(count, bool) else None
        elif kind == "raw":
            raw = _text(cell.source)
            cell.source = sanitise_html(raw)
            cell.pop("attachments", None)
            if cell.source.strip() != raw.strip():
                removed.append(f"{where}: sanitised a raw cell")
        else:
            removed.append(f"{where}: removed a cell of unknown type {str(kind)[:30]!r}")
            continue
        cells.append(cell)
    nb.cells = cells
    return nb, removed
