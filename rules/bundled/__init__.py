"""Rules shipped with Logwarden (package data, loaded when rules.bundled is true)."""
