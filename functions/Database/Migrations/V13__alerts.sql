-- Alerts: webhooks (where notifications go), alert rules (what to watch), alerts (a rule's condition on one subject,
-- firing until it clears), deliveries (one per alert, webhook and transition) with every attempt, and the evaluator's
-- cursor over a67.events.

CREATE TABLE a67.webhooks (
    id                 uuid        PRIMARY KEY,
    account_id         uuid        NOT NULL REFERENCES a67.accounts (id) ON DELETE CASCADE,
    name               text        NOT NULL,
    url                text        NOT NULL,
    -- The HMAC key, kept as is: the control plane must sign with it, so unlike a token it cannot be a hash. Issue 7's
    -- secret store will encrypt this column; until then it is readable by whoever reads the database.
    secret             text        NOT NULL,
    secret_hint        text        NOT NULL,   -- its last characters, to tell secrets apart after a rotation
    created_at         timestamptz NOT NULL,
    secret_rotated_at  timestamptz,
    UNIQUE (account_id, name)
);

CREATE TABLE a67.alert_rules (
    id                uuid             PRIMARY KEY,
    account_id        uuid             NOT NULL REFERENCES a67.accounts (id) ON DELETE CASCADE,
    name              text             NOT NULL,
    kind              text             NOT NULL CHECK (kind IN ('node-offline', 'crash-loop', 'cpu-above', 'memory-above', 'deploy-failed')),
    app_id            uuid,            -- scope: only this app (kept without a foreign key, like the events)
    node_id           uuid,            -- scope: only this node
    threshold         double precision CHECK (threshold IS NULL OR threshold > 0),
    duration_seconds  integer          CHECK (duration_seconds IS NULL OR duration_seconds BETWEEN 10 AND 86400),
    enabled           boolean          NOT NULL DEFAULT true,
    created_at        timestamptz      NOT NULL,
    updated_at        timestamptz      NOT NULL,
    UNIQUE (account_id, name),
    CHECK ((kind IN ('cpu-above', 'memory-above')) = (threshold IS NOT NULL AND duration_seconds IS NOT NULL))
);

CREATE TABLE a67.alert_rule_webhooks (
    rule_id     uuid NOT NULL REFERENCES a67.alert_rules (id) ON DELETE CASCADE,
    webhook_id  uuid NOT NULL REFERENCES a67.webhooks (id) ON DELETE CASCADE,
    PRIMARY KEY (rule_id, webhook_id)
);
CREATE INDEX alert_rule_webhooks_webhook ON a67.alert_rule_webhooks (webhook_id);

CREATE TABLE a67.alerts (
    id               uuid        PRIMARY KEY,
    account_id       uuid        NOT NULL REFERENCES a67.accounts (id) ON DELETE CASCADE,
    rule_id          uuid        NOT NULL REFERENCES a67.alert_rules (id) ON DELETE CASCADE,
    subject_type     text        NOT NULL CHECK (subject_type IN ('node', 'app')),
    subject_id       uuid        NOT NULL,
    status           text        NOT NULL CHECK (status IN ('firing', 'acknowledged', 'resolved')),
    message          text        NOT NULL,
    detail           jsonb       NOT NULL DEFAULT '{}',
    event_id         bigint,     -- the event that fired it (none for a threshold)
    fired_at         timestamptz NOT NULL,
    acknowledged_at  timestamptz,
    acknowledged_by  uuid,
    resolved_at      timestamptz,
    resolution       text
);
-- One open alert per rule and subject: a second firing of the same condition is the same alert.
CREATE UNIQUE INDEX alerts_open ON a67.alerts (rule_id, subject_id) WHERE status <> 'resolved';
CREATE INDEX alerts_account ON a67.alerts (account_id, fired_at DESC);

CREATE TABLE a67.alert_deliveries (
    id               uuid        PRIMARY KEY,
    account_id       uuid        NOT NULL,
    alert_id         uuid        NOT NULL REFERENCES a67.alerts (id) ON DELETE CASCADE,
    webhook_id       uuid        NOT NULL REFERENCES a67.webhooks (id) ON DELETE CASCADE,
    transition       text        NOT NULL CHECK (transition IN ('firing', 'resolved')),
    body             text        NOT NULL,   -- the JSON sent, fixed at the transition so every attempt sends the same
    status           text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz,            -- pending: when the next attempt is due
    claimed_until    timestamptz,            -- an attempt under way (a second job for it waits or does nothing)
    created_at       timestamptz NOT NULL,
    completed_at     timestamptz,
    UNIQUE (alert_id, webhook_id, transition)
);
CREATE INDEX alert_deliveries_webhook ON a67.alert_deliveries (webhook_id, created_at DESC);
CREATE INDEX alert_deliveries_pending ON a67.alert_deliveries (next_attempt_at) WHERE status = 'pending';

CREATE TABLE a67.alert_delivery_attempts (
    delivery_id  uuid        NOT NULL REFERENCES a67.alert_deliveries (id) ON DELETE CASCADE,
    attempt      integer     NOT NULL,
    started_at   timestamptz NOT NULL,
    duration_ms  integer     NOT NULL,
    status_code  integer,    -- null when no answer came (refused, timeout, DNS)
    error        text,
    PRIMARY KEY (delivery_id, attempt)
);

-- The evaluator's place in a67.events. Identity ids are taken before commit, so a smaller id can commit after a
-- larger one was read: ids above event_cursor that were read are remembered in alert_seen_events, and the cursor
-- moves up to pending_high only once every transaction running when pending_high was read has ended
-- (pg_snapshot_xmin of a later snapshot has passed pending_xmax). See docs/alerts.md, "Evaluation".
CREATE TABLE a67.alert_evaluator (
    id            integer     PRIMARY KEY CHECK (id = 1),
    event_cursor  bigint      NOT NULL,
    pending_high  bigint,
    pending_xmax  xid8,
    last_run_at   timestamptz
);
INSERT INTO a67.alert_evaluator (id, event_cursor) VALUES (1, 0);

CREATE TABLE a67.alert_seen_events (
    event_id  bigint PRIMARY KEY
);
