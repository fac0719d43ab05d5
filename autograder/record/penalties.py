"""Late penalties in the gradebook, through nbgrader's late-submission plugin mechanism.

:class:`CourseLatePenalty` is an ``nbgrader.plugins.LateSubmissionPlugin`` configured from a
lab's late policy (``latepolicy.py``); :func:`apply_late_penalties` does for a whole lab what
nbgrader's ``AssignLatePenalties`` preprocessor does for one notebook: reset each submitted
notebook's ``late_submission_penalty``, ask the plugin for a penalty when the submission is
late (nbgrader's ``total_seconds_late``, which honours per-student extensions), clip it to
[0, score] and store it. It is idempotent, so it is re-run whenever marks may have changed
(after grading, before feedback and export): manual marks added later are then covered too.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from nbgrader.api import MissingEntry
from nbgrader.plugins import LateSubmissionPlugin
from sqlalchemy.exc import SAWarning
from traitlets import Float

from autograder.course import Course, Lab
from autograder.record.gradebook import open_gradebook
from autograder.record.latepolicy import LatePolicy


class CourseLatePenalty(LateSubmissionPlugin):
    """A penalty of ``per_day`` of the lab's points per started day late, after a grace period, capped."""

    grace_seconds = Float(0.0, help="Lateness forgiven entirely, in seconds.").tag(config=True)
    per_day = Float(0.0, help="Fraction of the lab's points lost per started day late.").tag(config=True)
    cap = Float(1.0, help="Largest fraction of the lab's points a late submission can lose.").tag(config=True)
    max_score = Float(0.0, help="The lab's (notebook's) points.").tag(config=True)

    @classmethod
    def for_policy(cls, policy: LatePolicy, max_score: float) -> CourseLatePenalty:
        """A plugin set up for ``policy`` on a notebook worth ``max_score`` points."""
        return cls(grace_seconds=policy.grace_minutes * 60, per_day=policy.per_day, cap=policy.cap, max_score=max_score)

    def policy(self) -> LatePolicy:
        """This plugin's settings as a LatePolicy (the due date is nbgrader's, so not needed here)."""
        return LatePolicy(due=None, grace_minutes=self.grace_seconds / 60, per_day=self.per_day, cap=self.cap)

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> float | None:
        """The penalty in points for ``total_seconds_late`` seconds late (None: no penalty)."""
        policy = self.policy()
        days = policy.days_charged(total_seconds_late)
        if days == 0 or self.per_day <= 0:
            return None
        return min(self.cap, self.per_day * days) * self.max_score


@dataclass(frozen=True)
class LateRecord:
    """One submission's lateness and the penalty stored for it."""

    student: str
    seconds_late: float
    days_charged: int
    penalty: float
    score: float
    max_score: float


def _clip(penalty: float, score: float) -> float:
    """nbgrader's rule (``AssignLatePenalties._check_late_penalty``): 0 <= penalty <= score."""
    return max(0.0, min(penalty, score))


def apply_late_penalties(course: Course, lab: Lab, db_url: str) -> list[LateRecord]:
    """Set the due date and every submitted notebook's late penalty for ``lab``; return the late ones."""
    policy = lab.late
    records: list[LateRecord] = []
    with open_gradebook(db_url, course.id) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore", category=SAWarning)
        try:
            assignment = gb.find_assignment(lab.id)
        except MissingEntry:
            return records  # nothing graded yet
        if policy.due is None:
            assignment.duedate = None
            gb.db.commit()
        else:
            gb.update_or_create_assignment(lab.id, duedate=policy.due)  # nbgrader stores it as naive UTC
        for submission in gb.assignment_submissions(lab.id):
            seconds = submission.total_seconds_late
            for notebook in submission.notebooks:
                notebook.late_submission_penalty = None
                if seconds <= 0:
                    continue
                plugin = CourseLatePenalty.for_policy(policy, float(notebook.max_score))
                penalty = plugin.late_submission_penalty(submission.student.id, float(notebook.score), seconds)
                if penalty is not None:
                    notebook.late_submission_penalty = _clip(penalty, float(notebook.score))
            if seconds > 0:
                records.append(
                    LateRecord(
                        submission.student.id,
                        seconds,
                        policy.days_charged(seconds),
                        sum(float(n.late_submission_penalty or 0.0) for n in submission.notebooks),
                        float(submission.score),
                        float(submission.max_score),
                    )
                )
        gb.db.commit()
    return sorted(records, key=lambda r: r.student)
