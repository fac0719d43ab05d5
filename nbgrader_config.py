"""nbgrader configuration for running plain ``nbgrader`` commands from the repository root.

The ``course`` CLI builds its own configuration from ``course.toml`` (see
``autograder/course.py`` and ``autograder/grade.py``); this file makes the same layout work for nbgrader's own
commands and for the formgrader: sources in ``solutions/``, releases in ``labs/``.
"""

from pathlib import Path

c = get_config()  # noqa: F821 - provided by traitlets when nbgrader loads this file

# The gradebook and everything grading writes live in grading/ (ignored by git).
GRADING = Path(__file__).resolve().parent / "grading"
GRADING.mkdir(exist_ok=True)
# nbgrader's exchange (its own release/collect) is unused here, but the formgrader warns on every
# page when it is missing: give it a folder under grading/.
(GRADING / "exchange").mkdir(exist_ok=True)
c.Exchange.root = str(GRADING / "exchange")
# The formgrader's "Generate Feedback" and "Release Feedback" would show students hidden tests and
# reference solutions: both end in a message pointing at `course feedback` (autograder/formgrader_guard.py).
c.GenerateFeedback.preprocessors = ["autograder.formgrader_guard.RefuseFeedback"]
c.ExchangeFactory.release_feedback = "autograder.formgrader_guard.RefusedReleaseFeedback"

c.CourseDirectory.course_id = "dl-labs"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "labs"
c.CourseDirectory.submitted_directory = "grading/submitted"
c.CourseDirectory.autograded_directory = "grading/autograded"
c.CourseDirectory.feedback_directory = "grading/feedback"
c.CourseDirectory.db_url = "sqlite:///grading/gradebook.db"
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
c.ExecutePreprocessor.timeout = 120

# The formgrader typesets formulas with MathJax served by this Jupyter server (the
# jupyter-server-mathjax package, in the `instructor` extra), not a CDN: an offline marking
# machine shows rendered math too.
try:
    from autograder.formgrader_guard import formgrade_template_paths
except ImportError:  # the autograder package is not installed: nbgrader's default (a CDN)
    pass
else:
    c.HTMLExporter.template_paths = formgrade_template_paths()
