"""From an LMS download or a folder to one notebook per student, matched to the roster."""
