"""Operator-side tools of numberguard: the CLI, local mode, and reading template.yaml."""
