"""The web UI and HTTP API (`logwarden up` serves it on http.listen)."""
