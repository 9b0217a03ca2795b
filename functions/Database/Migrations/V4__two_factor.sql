-- Two-factor authentication: TOTP (RFC 6238), single-use backup codes, and the short-lived challenges that sit
-- between a login's password step and its second-factor step.

-- One row per account that has started enrolling; enabled_at says whether it finished. The TOTP secret must be
-- readable to check codes, so it is encrypted (AES-256-GCM, key in a local key file, the account id as associated
-- data) rather than hashed: a copy of the database alone gives nobody a second factor.
CREATE TABLE a67.two_factor (
    account_id              uuid        PRIMARY KEY REFERENCES a67.accounts (id) ON DELETE CASCADE,
    secret                  bytea       NOT NULL,
    enabled_at              timestamptz,          -- null: enrolment started, not yet confirmed with a code
    last_used_step          bigint,               -- newest TOTP time step accepted; a code is good once (RFC 6238 §5.2)
    failures                integer     NOT NULL DEFAULT 0 CHECK (failures >= 0),
    failure_window_started  timestamptz,          -- failures count from here; past the window they start again at 0
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER two_factor_updated_at BEFORE UPDATE ON a67.two_factor FOR EACH ROW EXECUTE FUNCTION a67.set_updated_at();

-- Backup codes carry 120 random bits, so a SHA-256 hash is enough (ASVS 5.0 6.5.2); used_at set means spent.
CREATE TABLE a67.two_factor_backup_codes (
    account_id  uuid        NOT NULL REFERENCES a67.accounts (id) ON DELETE CASCADE,
    code_hash   bytea       NOT NULL,
    created_at  timestamptz NOT NULL,
    used_at     timestamptz,
    PRIMARY KEY (account_id, code_hash)
);

-- A password accepted for an account with two-factor on yields a challenge, not tokens; the second step redeems it
-- once. Stored as the SHA-256 of a 256-bit random token, like refresh tokens.
CREATE TABLE a67.two_factor_challenges (
    token_hash  bytea       PRIMARY KEY,
    account_id  uuid        NOT NULL REFERENCES a67.accounts (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX two_factor_challenges_account ON a67.two_factor_challenges (account_id);
CREATE INDEX two_factor_challenges_expiry ON a67.two_factor_challenges (expires_at);
