"""logwarden.rules"""
