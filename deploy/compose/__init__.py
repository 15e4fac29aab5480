"""Docker compose files for the scaled-out form (data files, shipped in the wheel)."""
