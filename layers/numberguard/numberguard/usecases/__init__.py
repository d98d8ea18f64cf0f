"""Use cases: one per handler action, wiring the domain to the store."""
