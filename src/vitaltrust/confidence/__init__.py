"""confidence domain."""
