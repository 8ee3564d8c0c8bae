"""Operator tools: `vitaltrust doctor` (the troubleshooting list) and `vitaltrust logs`."""
