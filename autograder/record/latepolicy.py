"""A lab's late policy (due date, grace period, penalty per started day, cap): parsing and arithmetic.

The keys live in a ``[[labs]]`` entry of ``course.toml``::

    due = "2026-10-10T17:00:00+00:00"   # ISO 8601 with a UTC offset (a TOML datetime works too)
    grace_minutes = 15                  # submissions up to 15 minutes late cost nothing
    late_penalty_per_day = 0.1          # fraction of the lab's points lost per started day late
    late_penalty_cap = 0.5              # never more than this fraction of the lab's points

Days are counted from the due date itself: 20 minutes late with a 15-minute grace is one
started day. This module has no nbgrader dependency; ``penalties.py`` applies it to the gradebook.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

LATE_KEYS = ("due", "grace_minutes", "late_penalty_per_day", "late_penalty_cap")
DAY_SECONDS = 86400.0


@dataclass(frozen=True)
class LatePolicy:
    """When a lab is due and what lateness costs, as fractions of the lab's points."""

    due: dt.datetime | None = None
    grace_minutes: float = 0.0
    per_day: float = 0.0
    cap: float = 1.0

    @property
    def active(self) -> bool:
        """True when late submissions can cost points."""
        return self.due is not None and self.per_day > 0 and self.cap > 0

    def seconds_late(self, timestamp: dt.datetime | None) -> float:
        """Seconds between the due date and ``timestamp`` (0 when on time or unknown)."""
        if self.due is None or timestamp is None:
            return 0.0
        if timestamp.tzinfo is None:
            timestamp = timestamp.replace(tzinfo=dt.timezone.utc)
        return max(0.0, (timestamp - self.due).total_seconds())

    def days_charged(self, seconds_late: float) -> int:
        """Started days late that cost points (0 inside the grace period)."""
        if seconds_late <= self.grace_minutes * 60:
            return 0
        return math.ceil(seconds_late / DAY_SECONDS)

    def penalty_fraction(self, seconds_late: float) -> float:
        """The fraction of the lab's points lost for submitting ``seconds_late`` seconds late."""
        if not self.active:
            return 0.0
        return min(self.cap, self.per_day * self.days_charged(seconds_late))

    def describe(self) -> str:
        """One line for students: the due date and the penalty rule."""
        if self.due is None:
            return "no due date"
        text = f"due {self.due.isoformat()}"
        if self.active:
            grace = f" after a {self.grace_minutes:g}-minute grace period" if self.grace_minutes else ""
            text += (
                f"; late work loses {self.per_day:.0%} of the lab's points per started day{grace}, "
                f"at most {self.cap:.0%}"
            )
        return text


def parse_due(value: Any) -> dt.datetime:
    """A due date from course.toml (an ISO 8601 string or a TOML datetime) that carries a UTC offset."""
    if isinstance(value, dt.datetime):
        stamp = value
    elif isinstance(value, str):
        try:
            stamp = dt.datetime.fromisoformat(value.strip())
        except ValueError as error:
            raise ValueError(f"due = {value!r} is not an ISO 8601 date-time like '2026-10-10T17:00:00+00:00'") from error
    else:
        raise ValueError(f"due must be a date-time string, not {type(value).__name__}")  # noqa: TRY004 - a config error
    if stamp.tzinfo is None or stamp.utcoffset() is None:
        raise ValueError(f"due = {value!s} needs a UTC offset (e.g. '+00:00' or 'Z') so lateness is unambiguous")
    return stamp


def _fraction(entry: dict, key: str, default: float) -> float:
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{key} must be a number, not {value!r}")  # noqa: TRY004 - a config error
    if not 0 <= value <= 1:
        raise ValueError(f"{key} = {value} must be a fraction between 0 and 1 (0.1 means 10% of the lab's points)")
    return float(value)


def parse_late_policy(entry: dict) -> LatePolicy:
    """The late policy of a ``[[labs]]`` entry (no late keys: nothing is ever late)."""
    if not any(key in entry for key in LATE_KEYS):
        return LatePolicy()
    due = parse_due(entry["due"]) if "due" in entry else None
    grace = entry.get("grace_minutes", 0)
    if isinstance(grace, bool) or not isinstance(grace, (int, float)) or grace < 0:
        raise ValueError(f"grace_minutes must be a number of minutes >= 0, not {grace!r}")
    per_day = _fraction(entry, "late_penalty_per_day", 0.0)
    if due is None and per_day > 0:
        raise ValueError("late_penalty_per_day needs a due date ('due = \"2026-10-10T17:00:00+00:00\"')")
    return LatePolicy(due=due, grace_minutes=float(grace), per_day=per_day, cap=_fraction(entry, "late_penalty_cap", 1.0))
