"""Pure confidence model tests: no database."""
