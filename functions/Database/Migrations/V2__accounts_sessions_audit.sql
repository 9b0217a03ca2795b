-- Accounts, sign-in sessions (refresh-token families) and the audit log.

CREATE TABLE a67.accounts (
    id             uuid        PRIMARY KEY,
    email          text        NOT NULL,          -- normalized: trimmed, NFC, lower-case
    password_hash  text,                          -- Argon2id PHC string; null for accounts that only sign in with GitHub
    role           text        NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    disabled_at    timestamptz,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX accounts_email_key ON a67.accounts (email);
CREATE TRIGGER accounts_updated_at BEFORE UPDATE ON a67.accounts FOR EACH ROW EXECUTE FUNCTION a67.set_updated_at();

-- One row per sign-in: the family of its rotating refresh tokens (RFC 9700 §4.14.2).
CREATE TABLE a67.sessions (
    id                uuid        PRIMARY KEY,
    account_id        uuid        NOT NULL REFERENCES a67.accounts (id) ON DELETE CASCADE,
    user_agent        text        NOT NULL,
    ip                text        NOT NULL,
    created_at        timestamptz NOT NULL,
    last_used_at      timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL,       -- absolute expiry; the idle expiry is last_used_at + the idle timeout
    revoked_at        timestamptz,
    revoked_reason    text
);
CREATE INDEX sessions_account ON a67.sessions (account_id, created_at DESC);

-- Refresh tokens are stored as SHA-256 hashes (256-bit random tokens need no slow hash). A token is used once:
-- used_at set means it was rotated, and presenting it again revokes its session.
CREATE TABLE a67.refresh_tokens (
    token_hash  bytea       PRIMARY KEY,
    session_id  uuid        NOT NULL REFERENCES a67.sessions (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX refresh_tokens_session ON a67.refresh_tokens (session_id);

CREATE TABLE a67.audit_events (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at  timestamptz NOT NULL,
    type         text        NOT NULL,
    account_id   uuid,                            -- whose account the event concerns (null: unknown, e.g. a failed login for no account)
    actor_id     uuid,                            -- who did it, when known
    ip           text,
    user_agent   text,
    detail       jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_account ON a67.audit_events (account_id, occurred_at DESC, id DESC);
CREATE INDEX audit_events_time ON a67.audit_events (occurred_at DESC, id DESC);
