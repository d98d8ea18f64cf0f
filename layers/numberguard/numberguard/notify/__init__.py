"""Notifications: what changed, published once to SNS (email and machine subscribers)."""
