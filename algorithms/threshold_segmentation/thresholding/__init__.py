"""Global thresholds and the clean-up of binary masks."""
