-- What happened to an account's apps and nodes, for people and alert rules: replicas crashed, restarted or
-- rescheduled, nodes unreachable, lost or back, deployments succeeded, failed or rolled back. Append-only; the app,
-- node and operation ids are kept without foreign keys so the events outlive what they are about.

CREATE TABLE a67.events (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- also the feed's cursor (alert evaluation reads after one)
    account_id    uuid        NOT NULL REFERENCES a67.accounts (id) ON DELETE CASCADE,
    occurred_at   timestamptz NOT NULL,
    type          text        NOT NULL,
    severity      text        NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    app_id        uuid,
    node_id       uuid,
    operation_id  uuid,
    replica_id    uuid,
    message       text        NOT NULL,
    detail        jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX events_account ON a67.events (account_id, id DESC);
CREATE INDEX events_app ON a67.events (app_id, id DESC) WHERE app_id IS NOT NULL;
CREATE INDEX events_node ON a67.events (node_id, id DESC) WHERE node_id IS NOT NULL;
CREATE INDEX events_account_type ON a67.events (account_id, type, id DESC);
