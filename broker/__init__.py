"""logwarden.broker"""
