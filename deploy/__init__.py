"""logwarden.deploy"""
