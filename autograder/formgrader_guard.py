"""nbgrader's own feedback buttons, disabled for this course (configured in nbgrader_config.py).

The formgrader's "Generate Feedback" renders the autograded notebook as it is, hidden tests and
all, and "Release Feedback" copies that page to the students. This course hands feedback back
with ``course feedback LAB`` (built from the gradebook, never from the executed notebook), so
both buttons end in a message saying so instead of doing anything.
"""

from __future__ import annotations

from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from nbgrader.exchange.abc.exchange import ExchangeError
from nbgrader.exchange.default import ExchangeReleaseFeedback
from traitlets import Bool

MESSAGE = (
    "This course does not use nbgrader's own feedback: it would show hidden tests and reference "
    "solutions. Run `course feedback LAB` (and `course feedback LAB --preview STUDENT` to look at one page)."
)


class RefuseFeedback(Preprocessor):
    """Stands in for GenerateFeedback's preprocessors: every notebook fails with MESSAGE."""

    enabled = Bool(True)  # nbconvert skips preprocessors that are not enabled

    def preprocess(self, nb, resources):
        raise RuntimeError(MESSAGE)


class RefusedReleaseFeedback(ExchangeReleaseFeedback):
    """Stands in for the exchange's ReleaseFeedback: nothing is copied, MESSAGE is shown."""

    def start(self):
        raise ExchangeError(MESSAGE)


TEMPLATES = Path(__file__).parent / "formgrader_templates"


def formgrade_template_paths() -> list[str]:
    """The formgrader's nbconvert template path with this course's overrides first (offline MathJax)."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers

    exporter = HTMLExporter(template_name="formgrade", extra_template_basedirs=[handlers.template_path])
    return [str(TEMPLATES), *exporter.template_paths]
