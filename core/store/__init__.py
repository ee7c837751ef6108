"""Storage: the Store port's TinyDB and PostgreSQL implementations, tables, repos, codec, blobs."""
