"""The gradebook, per-student results, late penalties and mark exports."""
