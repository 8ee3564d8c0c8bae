"""Alerts (rules over the pipeline health) and outbound events (signed webhooks, Slack, e-mail)."""
