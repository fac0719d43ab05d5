"""Defence in depth that explains odd submissions to a human: restoring instructor cells, the static scan."""
