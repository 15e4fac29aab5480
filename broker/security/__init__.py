"""Listener security: SASL mechanisms (PLAIN, SCRAM-SHA-256/512) and TLS contexts."""
