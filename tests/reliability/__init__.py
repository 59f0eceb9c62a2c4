"""Reliability and security: hostile inputs, faults and interruptions, driven through the real CLI."""
