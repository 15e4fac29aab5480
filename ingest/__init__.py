"""logwarden.ingest"""
