"""The SQLite ledger: schema, migrations and every SQL statement of lockerkey."""
