"""Stand-ins the sandbox runs where no real thing can run here: the model server."""
