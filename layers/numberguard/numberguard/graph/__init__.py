"""Meta's Graph API: the reads of the Meta sync (DESIGN §5b), typed, budgeted, token kept out of sight."""
