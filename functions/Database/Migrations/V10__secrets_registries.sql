-- App secrets and private-registry credentials (issue 7), encrypted at rest; nodes' sealing keys for delivery.

-- Which version of the key-encryption key (KEK) new secrets are wrapped with: one row. Writers read it FOR SHARE and
-- a rotation updates it, so a write never wraps with a key the rewrap has already moved away from.
CREATE TABLE a67.secret_key_state (
    singleton   boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    active_kek  text        NOT NULL,              -- 'file:FILEID.N' (the local key file) or 'kv:VERSION' (Key Vault)
    rotated_at  timestamptz NOT NULL
);

-- A registry credential of an account, named in a release's "registry". Its username and password live in
-- a67.secrets (owner registry_id), never here.
CREATE TABLE a67.registries (
    id          uuid        PRIMARY KEY,
    account_id  uuid        NOT NULL REFERENCES a67.accounts (id) ON DELETE CASCADE,
    name        text        NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    server      text        NOT NULL CHECK (length(server) BETWEEN 1 AND 255),
    created_at  timestamptz NOT NULL,
    created_by  uuid        NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE UNIQUE INDEX registries_account_name ON a67.registries (account_id, lower(name));

-- One row per secret: its current version, encrypted. A fresh 256-bit data key per version encrypts the value with
-- AES-256-GCM; the data key is wrapped (AES-256-GCM) by the KEK named in kek_id. Both take the secret's identity
-- (account, owner, id, name, version) as associated data, so a ciphertext copied to another row does not open.
CREATE TABLE a67.secrets (
    id           uuid        PRIMARY KEY,
    account_id   uuid        NOT NULL REFERENCES a67.accounts (id) ON DELETE CASCADE,
    app_id       uuid        REFERENCES a67.apps (id) ON DELETE CASCADE,
    registry_id  uuid        REFERENCES a67.registries (id) ON DELETE CASCADE,
    name         text        NOT NULL CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]{0,254}$'),
    version      integer     NOT NULL CHECK (version >= 1),
    kek_id       text        NOT NULL,
    wrapped_key  bytea       NOT NULL,             -- nonce (12) ‖ encrypted data key (32) ‖ tag (16)
    ciphertext   bytea       NOT NULL,             -- nonce (12) ‖ encrypted value ‖ tag (16)
    value_bytes  integer     NOT NULL CHECK (value_bytes BETWEEN 0 AND 65536),
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    updated_by   uuid,
    CHECK ((app_id IS NULL) <> (registry_id IS NULL))
);
CREATE UNIQUE INDEX secrets_app_name ON a67.secrets (app_id, name) WHERE app_id IS NOT NULL;
CREATE UNIQUE INDEX secrets_registry_name ON a67.secrets (registry_id, name) WHERE registry_id IS NOT NULL;
-- The rewrap after a rotation walks the rows still wrapped by an older KEK.
CREATE INDEX secrets_kek ON a67.secrets (kek_id);

-- A relay's ECDH P-256 public key (SubjectPublicKeyInfo) that secrets are sealed to. Separate from the signing key
-- (public_key): one key, one purpose. Null for a node enrolled before issue 7 until its relay registers one.
ALTER TABLE a67.nodes ADD COLUMN sealing_key bytea;
