"""selftest domain."""
