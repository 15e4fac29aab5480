"""Who may use the web UI and the HTTP API: local users, API tokens, sessions, the first admin.

Everything here is file- and clock-driven and knows nothing of HTTP; logwarden/http/auth.py
is the shell that reads cookies and headers and answers 401/403/429.
"""
