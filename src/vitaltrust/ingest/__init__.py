"""Webhook ingestion: the route, signatures, rate limits and provider adapters."""
