-- Docker hosts enrolled by their relays, and the one-time join tokens that enrol them.

CREATE TABLE a67.join_tokens (
    token_hash  bytea       PRIMARY KEY,          -- SHA-256 of the 256-bit token: shown once, never stored
    account_id  uuid        NOT NULL REFERENCES a67.accounts (id) ON DELETE CASCADE,
    name        text,                             -- the node's name when it enrols (else its hostname)
    labels      jsonb       NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    node_id     uuid
);
CREATE INDEX join_tokens_account ON a67.join_tokens (account_id, created_at DESC);

CREATE TABLE a67.nodes (
    id                     uuid        PRIMARY KEY,
    account_id             uuid        NOT NULL REFERENCES a67.accounts (id) ON DELETE CASCADE,
    name                   text        NOT NULL,
    labels                 jsonb       NOT NULL DEFAULT '{}',
    public_key             bytea       NOT NULL,  -- the node's P-256 key (SubjectPublicKeyInfo): its events must verify against it
    facts                  jsonb       NOT NULL,
    draining               boolean     NOT NULL DEFAULT false,
    enrolled_at            timestamptz NOT NULL,
    credential_expires_at  timestamptz NOT NULL,
    last_heartbeat_at      timestamptz,
    updated_at             timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, name)
);
CREATE INDEX nodes_account ON a67.nodes (account_id, name);
CREATE TRIGGER nodes_updated_at BEFORE UPDATE ON a67.nodes FOR EACH ROW EXECUTE FUNCTION a67.set_updated_at();
