"""Money transfer: two PostgreSQL accounts, exactly-once steps, money conserved."""
