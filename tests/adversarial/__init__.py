"""A corpus of hostile and broken submissions for the toy lab, each with its correct score."""
