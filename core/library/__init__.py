"""A chat's personal library: search what it was sent and what its shows said, export it."""
