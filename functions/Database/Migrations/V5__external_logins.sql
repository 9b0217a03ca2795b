-- Sign-in through an external identity provider (GitHub). An account is found by (provider, subject), the
-- provider's stable user id, never by email: an address at GitHub proves nothing about an account here.

CREATE TABLE a67.external_logins (
    provider      text        NOT NULL,                -- 'github'
    subject       text        NOT NULL,                -- the provider's user id (GitHub's numeric id, as text)
    account_id    uuid        NOT NULL REFERENCES a67.accounts (id) ON DELETE CASCADE,
    login         text        NOT NULL,                -- the user name at the provider, last seen (it can change; the id cannot)
    created_at    timestamptz NOT NULL,
    last_used_at  timestamptz,
    PRIMARY KEY (provider, subject)
);
-- One identity per provider and account, so unlinking names exactly one row.
CREATE UNIQUE INDEX external_logins_account ON a67.external_logins (account_id, provider);

-- Authorization-code flows in progress (state + PKCE). The state and the browser's flow id (its cookie) are kept as
-- SHA-256 hashes; the code verifier is sent to the provider at the exchange, so it is kept as is until the flow is used
-- (then blanked). A flow lives 10 minutes and is used once; rows are deleted an hour after they expire, so a late
-- replay is still recognised as one.
CREATE TABLE a67.external_login_flows (
    state_hash     bytea       PRIMARY KEY,
    flow_hash      bytea       NOT NULL,
    provider       text        NOT NULL,
    code_verifier  text        NOT NULL,
    redirect_uri   text        NOT NULL,               -- sent again at the exchange: it must equal the authorize request's
    account_id     uuid        REFERENCES a67.accounts (id) ON DELETE CASCADE,  -- set: links to this signed-in account
    session_id     uuid        REFERENCES a67.sessions (id) ON DELETE CASCADE,  -- ...and only while this session lives
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz,
    CHECK ((account_id IS NULL) = (session_id IS NULL))
);
CREATE INDEX external_login_flows_expiry ON a67.external_login_flows (expires_at);
