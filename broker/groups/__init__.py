"""Consumer groups: the group coordinator state machine and committed offsets."""
