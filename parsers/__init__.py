"""logwarden.parsers"""
