"""Users, sessions, API tokens and role checks."""
