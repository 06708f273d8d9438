"""Reading whole accounts: snapshots of every cluster's entries, stale principals, state rules."""
