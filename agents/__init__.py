"""logwarden.agents"""
