-- Apps and their numbered, immutable releases (issue 5). Operations and replicas come in their own migration.

CREATE TABLE a67.apps (
    id          uuid        PRIMARY KEY,
    account_id  uuid        NOT NULL REFERENCES a67.accounts (id) ON DELETE CASCADE,
    -- A DNS label: container names are derived from it.
    name        text        NOT NULL CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    labels      jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(labels) = 'object'),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX apps_account_name ON a67.apps (account_id, lower(name));
CREATE TRIGGER apps_updated_at BEFORE UPDATE ON a67.apps FOR EACH ROW EXECUTE FUNCTION a67.set_updated_at();

-- A release is what one deployment asked for: the spec with every default filled in, numbered 1, 2, … per app
-- (the next number is taken under a row lock on the app).
CREATE TABLE a67.releases (
    id          uuid        PRIMARY KEY,
    app_id      uuid        NOT NULL REFERENCES a67.apps (id) ON DELETE CASCADE,
    number      integer     NOT NULL CHECK (number >= 1),
    spec        jsonb       NOT NULL CHECK (jsonb_typeof(spec) = 'object'),
    created_at  timestamptz NOT NULL,
    created_by  uuid        NOT NULL,             -- the account that asked for it
    UNIQUE (app_id, number)
);

-- Releases are history: rolling back means deploying an earlier one again, so none may change after the fact.
-- Columns added later (a status, say) stay writable.
CREATE FUNCTION a67.refuse_release_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id IS DISTINCT FROM OLD.id OR NEW.app_id IS DISTINCT FROM OLD.app_id OR NEW.number IS DISTINCT FROM OLD.number
        OR NEW.spec IS DISTINCT FROM OLD.spec OR NEW.created_at IS DISTINCT FROM OLD.created_at OR NEW.created_by IS DISTINCT FROM OLD.created_by THEN
        RAISE EXCEPTION 'release % of app % is immutable', OLD.number, OLD.app_id
            USING ERRCODE = 'integrity_constraint_violation', HINT = 'Create a new release instead.';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER releases_immutable BEFORE UPDATE ON a67.releases FOR EACH ROW EXECUTE FUNCTION a67.refuse_release_change();
