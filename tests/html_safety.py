"""Render notebooks the way the formgrader does, and find anything executable in a page.

Shared by test_injection.py and test_browser_formgrader.py.
"""

from __future__ import annotations

import html as htmllib
from html.parser import HTMLParser
from pathlib import Path

from injection_corpus import MARK

DANGEROUS_TAGS = {
    "script", "iframe", "frame", "frameset", "object", "embed", "applet", "base", "meta", "link",
    "form", "button", "svg", "math", "style", "noscript", "template", "textarea", "select",
}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "srcdoc", "xlink:href", "background", "poster", "content", "codebase", "dynsrc", "lowsrc"}
SAFE_DATA = ("data:image/png;base64,", "data:image/jpeg;base64,", "data:image/gif;base64,")


def formgrade_html(notebook: Path, student: str = "mallory", first: str = "", last: str = "") -> str:
    """The manual-grading page nbgrader's formgrader serves for ``notebook`` (its handler's exporter and resources)."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers
    from traitlets.config import Config

    from autograder.formgrader_guard import formgrade_template_paths

    config = Config()
    config.HTMLExporter.template_name = "formgrade"  # FormgradeExtension.build_extra_config
    config.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    config.HTMLExporter.template_paths = formgrade_template_paths()  # as nbgrader_config.py sets it
    resources = {
        "assignment_id": "lab01_toy",
        "notebook_id": notebook.stem,
        "submission_id": "0123456789abcdef",
        "index": 0,
        "total": 1,
        "base_url": "",
        "student": student,
        "last_name": last,
        "first_name": first,
        "notebook_path": "/grading/autograded/x.ipynb",
    }
    page, _ = HTMLExporter(config=config).from_filename(str(notebook), resources=resources)
    return page


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.findings: list[tuple] = []
        self.text: list[str] = []
        self.tags: list[tuple[str, dict]] = []
        self._open: list[tuple[str, dict, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = {k.lower(): (v or "") for k, v in attrs}
        self.tags.append((tag, attributes))
        signature = tuple(sorted(attributes.items()))
        if tag in DANGEROUS_TAGS:
            self._open.append((tag, attributes, []))
            if tag != "script" and tag != "style":
                self.findings.append(("element", tag, signature))
        for name, value in attributes.items():
            plain = "".join(ch for ch in htmllib.unescape(value) if ch > " ").lower()
            if name.startswith("on"):
                self.findings.append(("handler", tag, name, value))
            if MARK.lower() in value.lower() and name not in ("alt", "title"):  # text attributes are inert
                self.findings.append(("payload in attribute", tag, name, value))
            if name in URL_ATTRIBUTES and (plain.startswith(("javascript:", "vbscript:")) or (plain.startswith("data:") and not plain.startswith(SAFE_DATA))):
                self.findings.append(("url", tag, name, value))
            if name == "style" and any(bad in plain for bad in ("expression(", "url(", "javascript:", "behavior:", "-moz-binding")):
                self.findings.append(("style", tag, value))

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        self.handle_starttag(tag, attrs)
        if self._open and self._open[-1][0] == tag:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1][0] == tag:
            name, attributes, content = self._open.pop()
            body = "".join(content)
            if name in ("script", "style"):
                self.findings.append((name, tuple(sorted(attributes.items())), body.strip()))

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1][2].append(data)
        self.text.append(data)


def parse(page: str) -> _Collector:
    collector = _Collector()
    collector.feed(page)
    collector.close()
    return collector


def executable(page: str, baseline: str | None = None) -> list[tuple]:
    """Scripts, handlers, frames, script URLs and styles in ``page`` that ``baseline`` (the same template) lacks."""
    found = parse(page).findings
    known = set(parse(baseline).findings) if baseline is not None else set()
    return [f for f in found if f not in known]


def page_text(page: str) -> str:
    return " ".join(parse(page).text)
