"""logwarden.sinks"""
