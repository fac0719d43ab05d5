"""Feedback pages for students, rendered from recorded results."""
