"""bench domain."""
