"""Training machinery around Lightning: checkpoint files, random states, resuming."""
