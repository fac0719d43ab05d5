"""Writing, building, proving and publishing labs: release and template derivation, validation, demo."""
