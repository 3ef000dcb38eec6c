"""The ledger's schema, versioned with ``PRAGMA user_version`` and migrated forward at startup.

Table and column names follow the seed design (members, rentals, locker_status,
active_transactions) so that anyone holding that design can read ``locker.db``; every added
column is documented in docs/data-model.md. Times are UTC ISO-8601 text with an explicit offset;
``expiry_date`` is a local calendar date (YYYY-MM-DD).
"""

from __future__ import annotations

# A migration whose text holds this marker rebuilds a table that others reference: Ledger.migrate
# turns foreign keys off around its transaction (SQLite ignores the PRAGMA inside one) and runs
# PRAGMA foreign_key_check before committing it.
FOREIGN_KEYS_OFF = "-- lockerkey: foreign keys off"

# Each entry moves the schema from version i to i+1. Never edit a released entry: add one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE members (
        member_id          TEXT PRIMARY KEY,
        member_name        TEXT NOT NULL,
        status             TEXT NOT NULL DEFAULT 'active'
                           CHECK (status IN ('active', 'suspended', 'expired')),
        expiry_date        TEXT,
        currently_renting  TEXT,
        daily_rental_count INTEGER NOT NULL DEFAULT 0,
        last_rental_time   TEXT,
        sync_date          TEXT,
        gender             TEXT,
        category           TEXT,
        zone               TEXT,
        attributes         TEXT NOT NULL DEFAULT '{}',
        created_at         TEXT NOT NULL,
        updated_at         TEXT NOT NULL
    );

    CREATE TABLE rentals (
        rental_id            INTEGER PRIMARY KEY AUTOINCREMENT,
        transaction_id       TEXT NOT NULL UNIQUE,
        member_id            TEXT NOT NULL REFERENCES members(member_id),
        locker_number        TEXT NOT NULL,
        rental_barcode_time  TEXT,
        rental_sensor_time   TEXT,
        rental_verified      INTEGER NOT NULL DEFAULT 0 CHECK (rental_verified IN (0, 1)),
        return_barcode_time  TEXT,
        return_target_locker TEXT,
        return_sensor_time   TEXT,
        return_actual_locker TEXT,
        return_verified      INTEGER NOT NULL DEFAULT 0 CHECK (return_verified IN (0, 1)),
        status               TEXT NOT NULL DEFAULT 'pending'
                             CHECK (status IN
                                    ('pending', 'active', 'returned', 'abnormal', 'cancelled')),
        error_code           TEXT,
        error_details        TEXT,
        device_id            TEXT NOT NULL DEFAULT 'DEVICE_001',
        sync_status          INTEGER NOT NULL DEFAULT 0 CHECK (sync_status IN (0, 1)),
        revision             INTEGER NOT NULL DEFAULT 1,
        created_at           TEXT NOT NULL,
        updated_at           TEXT NOT NULL
    );
    CREATE INDEX idx_rental_status ON rentals(status);
    CREATE INDEX idx_rental_member ON rentals(member_id);
    CREATE INDEX idx_rental_locker ON rentals(locker_number, status);
    CREATE INDEX idx_rental_unsynced ON rentals(rental_id) WHERE sync_status = 0;

    CREATE TABLE locker_status (
        locker_number       TEXT PRIMARY KEY,
        sensor_status       INTEGER CHECK (sensor_status IN (0, 1)),
        door_status         INTEGER CHECK (door_status IN (0, 1)),
        current_member      TEXT,
        current_transaction TEXT,
        locked_until        TEXT,
        last_change_time    TEXT,
        lock_status         INTEGER CHECK (lock_status IN (0, 1)),
        cabinet             TEXT,
        slot                INTEGER,
        zone                TEXT,
        key_barcode         TEXT,
        service             TEXT NOT NULL DEFAULT 'in_service'
                            CHECK (service IN ('in_service', 'set_aside', 'disabled')),
        service_reason      TEXT,
        configured          INTEGER NOT NULL DEFAULT 1 CHECK (configured IN (0, 1))
    );

    CREATE TABLE active_transactions (
        transaction_id        TEXT PRIMARY KEY,
        member_id             TEXT NOT NULL,
        transaction_type      TEXT NOT NULL CHECK (transaction_type IN ('rental', 'return')),
        start_time            TEXT NOT NULL,
        last_activity         TEXT NOT NULL,
        timeout_at            TEXT NOT NULL,
        sensor_events         TEXT NOT NULL DEFAULT '[]',
        status                TEXT NOT NULL DEFAULT 'active'
                              CHECK (status IN ('active', 'completed', 'timeout', 'cancelled',
                                                'failed', 'interrupted')),
        locker_number         TEXT,
        phase                 TEXT,
        rental_transaction_id TEXT,
        end_time              TEXT
    );
    CREATE INDEX idx_tx_open ON active_transactions(status)
        WHERE status IN ('active', 'interrupted');

    CREATE TABLE events (
        event_id       INTEGER PRIMARY KEY AUTOINCREMENT,
        time           TEXT NOT NULL,
        kind           TEXT NOT NULL,
        member_id      TEXT,
        locker_number  TEXT,
        transaction_id TEXT,
        details        TEXT NOT NULL DEFAULT '{}',
        device_id      TEXT NOT NULL
    );
    CREATE INDEX idx_events_time ON events(time);
    CREATE INDEX idx_events_tx ON events(transaction_id) WHERE transaction_id IS NOT NULL;
    CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events is append-only'); END;
    CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'events is append-only'); END;
    """,
    # 2: staff accounts of the admin console; indexes for its charts and its alerts page.
    """
    CREATE TABLE admin_accounts (
        name          TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS idx_rental_created ON rentals(created_at);
    CREATE INDEX IF NOT EXISTS idx_rental_updated ON rentals(updated_at);
    CREATE INDEX IF NOT EXISTS idx_events_kind_time ON events(kind, time);
    """,
    # 3: members.status also allows 'removed' (gone from the member sheet: deactivated, never
    # deleted); the log of member-sheet syncs. A CHECK cannot be altered: members is rebuilt
    # (rentals references it, hence the marker).
    FOREIGN_KEYS_OFF
    + """
    CREATE TABLE members_new (
        member_id          TEXT PRIMARY KEY,
        member_name        TEXT NOT NULL,
        status             TEXT NOT NULL DEFAULT 'active'
                           CHECK (status IN ('active', 'suspended', 'expired', 'removed')),
        expiry_date        TEXT,
        currently_renting  TEXT,
        daily_rental_count INTEGER NOT NULL DEFAULT 0,
        last_rental_time   TEXT,
        sync_date          TEXT,
        gender             TEXT,
        category           TEXT,
        zone               TEXT,
        attributes         TEXT NOT NULL DEFAULT '{}',
        created_at         TEXT NOT NULL,
        updated_at         TEXT NOT NULL
    );
    INSERT INTO members_new (member_id, member_name, status, expiry_date, currently_renting,
        daily_rental_count, last_rental_time, sync_date, gender, category, zone, attributes,
        created_at, updated_at)
    SELECT member_id, member_name, status, expiry_date, currently_renting,
        daily_rental_count, last_rental_time, sync_date, gender, category, zone, attributes,
        created_at, updated_at FROM members;
    DROP TABLE members;
    ALTER TABLE members_new RENAME TO members;

    CREATE TABLE sync_runs (
        run_id            INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at        TEXT NOT NULL,
        ended_at          TEXT,
        "trigger"         TEXT NOT NULL
                          CHECK ("trigger" IN ('schedule', 'startup', 'manual', 'cli')),
        backend           TEXT NOT NULL,
        status            TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
        members_read      INTEGER,
        members_added     INTEGER,
        members_updated   INTEGER,
        members_removed   INTEGER,
        bad_rows          INTEGER,
        rentals_appended  INTEGER,
        rentals_updated   INTEGER,
        api_calls         INTEGER,
        error             TEXT,
        details           TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX idx_sync_runs_started ON sync_runs(started_at);
    """,
    # 4: indexes so that nothing the kiosk reads at start-up grows with past rentals (at
    # 1,000,000 rentals each query below was a full scan: 1.5 s and 0.13 s). Each locker's
    # last confirmed rental, to pick the least-used locker; and the rentals whose key may be
    # out (ledger.held_sql), a few among the years of returned ones.
    """
    CREATE INDEX idx_rental_last_taken ON rentals(locker_number, rental_sensor_time)
        WHERE rental_verified = 1;
    CREATE INDEX idx_rental_held ON rentals(locker_number)
        WHERE status IN ('active', 'abnormal');
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)
