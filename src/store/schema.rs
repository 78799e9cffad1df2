//! Versioned migrations. `PRAGMA user_version` holds the number of migrations applied; each
//! migration runs in its own transaction together with the version bump, so a kill between
//! two migrations leaves a consistent database that the next start continues from.

/// The migrations in order. Never edit one that has shipped: add a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    r#"
CREATE TABLE hosts (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    department  TEXT,
    email       TEXT,
    phone       TEXT,
    -- Lower-cased name, pinyin and initials, for the host search on the walk-in form.
    search_key  TEXT NOT NULL DEFAULT '',
    active      INTEGER NOT NULL DEFAULT 1,
    updated_at  TEXT NOT NULL
);

-- Visitor profiles. The normalised phone number and e-mail address are the identity: a
-- returning visitor is recognised by either and is never stored twice.
CREATE TABLE visitors (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    company        TEXT,
    phone_e164     TEXT UNIQUE,
    email          TEXT UNIQUE,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    last_visit_at  TEXT
);

CREATE TABLE invites (
    id               TEXT PRIMARY KEY,
    short_code       TEXT UNIQUE,
    site_id          TEXT NOT NULL,
    visitor_name     TEXT,
    visitor_company  TEXT,
    visitor_email    TEXT,
    visitor_phone    TEXT,
    -- Not a foreign key: the host directory and the invites sync as separate streams and
    -- may arrive in either order.
    host_id          TEXT,
    purpose          TEXT,
    party_size       INTEGER NOT NULL DEFAULT 1 CHECK (party_size >= 1),
    vip              INTEGER NOT NULL DEFAULT 0,
    valid_from       TEXT NOT NULL,
    valid_until      TEXT NOT NULL,
    expected_end     TEXT,
    status           TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'cancelled')),
    cancelled_at     TEXT,
    -- hub: synced from lobby-hub; local: minted on this kiosk; token: known only from a
    -- scanned, correctly signed token that arrived before the invite itself.
    source           TEXT NOT NULL CHECK (source IN ('hub', 'local', 'token')),
    updated_at       TEXT NOT NULL
);

CREATE TABLE visits (
    id                  TEXT PRIMARY KEY,
    number              INTEGER NOT NULL UNIQUE,
    kind                TEXT NOT NULL CHECK (kind IN ('invite', 'walk_in')),
    -- UNIQUE: an invite can never make a second visit, whatever retries happen.
    invite_id           TEXT UNIQUE REFERENCES invites(id),
    visitor_id          TEXT REFERENCES visitors(id) ON DELETE SET NULL,
    visitor_name        TEXT,
    visitor_company     TEXT,
    host_id             TEXT REFERENCES hosts(id) ON DELETE SET NULL,
    host_name           TEXT,
    purpose             TEXT,
    vip                 INTEGER NOT NULL DEFAULT 0,
    state               TEXT NOT NULL
                        CHECK (state IN ('invited', 'checked_in', 'checked_out', 'no_show', 'cancelled')),
    checkout_code       TEXT NOT NULL UNIQUE,
    expected_end        TEXT,
    checked_in_at       TEXT,
    checked_out_at      TEXT,
    checkout_automatic  INTEGER NOT NULL DEFAULT 0,
    host_notified_at    TEXT,
    host_confirmed_at   TEXT,
    rating              INTEGER CHECK (rating BETWEEN 1 AND 5),
    -- Set when the invite was cancelled after the visitor had already checked in.
    cancelled_on_site   INTEGER NOT NULL DEFAULT 0,
    personal_data_purged INTEGER NOT NULL DEFAULT 0,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE INDEX visits_state ON visits(state, checked_in_at);
CREATE INDEX visits_checked_in_at ON visits(checked_in_at);
CREATE INDEX visits_visitor ON visits(visitor_id);

-- The history of every visit. Events hold no personal data.
CREATE TABLE visit_events (
    id           TEXT PRIMARY KEY,
    visit_id     TEXT NOT NULL REFERENCES visits(id),
    kind         TEXT NOT NULL,
    occurred_at  TEXT NOT NULL,
    recorded_at  TEXT NOT NULL,
    data         TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX visit_events_visit ON visit_events(visit_id, occurred_at);

CREATE TABLE print_jobs (
    id          INTEGER PRIMARY KEY,
    visit_id    TEXT REFERENCES visits(id),
    kind        TEXT NOT NULL CHECK (kind IN ('badge', 'roster')),
    status      TEXT NOT NULL CHECK (status IN ('queued', 'printed', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX print_jobs_status ON print_jobs(status, id);

-- Events waiting for the hub. The id (UUIDv7) makes every push idempotent at the hub.
CREATE TABLE outbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    visit_id     TEXT,
    payload      TEXT NOT NULL,
    occurred_at  TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    sent_at      TEXT
);
CREATE INDEX outbox_unsent ON outbox(seq) WHERE sent_at IS NULL;

CREATE TABLE sync_cursors (
    stream      TEXT PRIMARY KEY,
    cursor      TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE settings (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- What staff and IT did. No visitor personal data goes here.
CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    detail  TEXT NOT NULL DEFAULT ''
);
"#,
];
