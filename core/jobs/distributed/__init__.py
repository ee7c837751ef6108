"""Scale-out: Dramatiq actors over Redis, PostgreSQL shared state, one active scheduler."""
