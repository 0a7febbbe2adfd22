"""Accounts: passwords, second factors, invitations, web sessions and API tokens."""
