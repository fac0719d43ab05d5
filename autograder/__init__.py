"""Instructor tooling: build student releases, validate labs, and autograde submissions."""

__version__ = "0.1.0"
