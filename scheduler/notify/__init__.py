"""Outbound messages: webhooks and notifications (HTTP, SMTP): not the domain core."""
