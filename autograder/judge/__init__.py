"""Deciding points in the grader's own process, from plain data the probes sent back."""
