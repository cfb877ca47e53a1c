"""Webhook event routing: a router with filters, one module per concern."""
