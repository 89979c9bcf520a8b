-- Finance console sessions ended by "Sign out" before their expiry. The session
-- cookie is stateless (a signed token carrying its own expiry); this is the one
-- piece of server-side state it has: the session ids no instance may honour any
-- more. A row is needed only until the session would have expired anyway, and
-- every sign-out deletes the rows past that point (shared::db::console_signouts).
CREATE TABLE console_signouts (
    sid text PRIMARY KEY CHECK (sid ~ '^[0-9a-f]{32}$'),
    expires_at timestamptz NOT NULL
);
CREATE INDEX console_signouts_expires_at ON console_signouts (expires_at);
