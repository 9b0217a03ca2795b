-- Automator67 keeps its tables in the a67 schema; Hangfire keeps its own (hangfire).
-- Later migrations add one feature's tables each.

COMMENT ON SCHEMA a67 IS 'Automator67 control plane';

-- Every mutable table carries updated_at; one trigger function keeps it true whatever writes the row.
CREATE OR REPLACE FUNCTION a67.set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
