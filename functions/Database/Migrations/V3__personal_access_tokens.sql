-- Personal access tokens: long-lived bearer tokens for the CLI and CI, limited to scopes, revocable one by one.
-- A token is 256 random bits shown to its owner once; only its SHA-256 hash is kept (a 256-bit random value needs
-- no slow hash), with its last 4 characters as a hint so the owner can tell tokens apart in a list.
CREATE TABLE a67.personal_access_tokens (
    id            uuid        PRIMARY KEY,
    account_id    uuid        NOT NULL REFERENCES a67.accounts (id) ON DELETE CASCADE,
    name          text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    scopes        text[]      NOT NULL CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['read', 'deploy', 'admin']),
    token_hash    bytea       NOT NULL CHECK (length(token_hash) = 32),
    hint          text        NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    last_used_at  timestamptz,                    -- written at most once a minute per token
    revoked_at    timestamptz
);
CREATE UNIQUE INDEX personal_access_tokens_hash ON a67.personal_access_tokens (token_hash);
CREATE INDEX personal_access_tokens_account ON a67.personal_access_tokens (account_id, created_at DESC);
