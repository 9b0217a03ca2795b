-- The timer sweeps' state. Health: when a node was found silent (Unreachable) and when it was declared Lost (its
-- replicas rescheduled), with a per-node grace before Lost. Reconcile: each replica's crashes (from the inventory its
-- relay reports), its restart back-off and whether it is crash-looping; labelled containers no replica owns, from
-- when they were first seen. A replica on a Lost node is 'Lost': superseded by a placement elsewhere, not live, and
-- fenced (its container removed) when the node comes back.

ALTER TABLE a67.nodes
    ADD COLUMN unreachable_at      timestamptz,  -- set by the health sweep when heartbeats are late; cleared when they come back
    ADD COLUMN lost_at             timestamptz,  -- set when late beyond the grace; its replicas were rescheduled
    ADD COLUMN lost_after_seconds  integer CHECK (lost_after_seconds BETWEEN 10 AND 86400);  -- per-node grace (null: the setting)

ALTER TABLE a67.replicas DROP CONSTRAINT replicas_state_check;
ALTER TABLE a67.replicas ADD CONSTRAINT replicas_state_check CHECK (state IN ('Placed', 'Starting', 'Started', 'Probing', 'Healthy', 'Stopping',
    'Stopped', 'Restarting', 'Retiring', 'Removing', 'Removed', 'Failed', 'Lost'));
-- A Lost replica's slot is taken again by its replacement.
DROP INDEX a67.replicas_one_per_slot;
CREATE UNIQUE INDEX replicas_one_per_slot ON a67.replicas (release_id, slot) WHERE state NOT IN ('Removed', 'Failed', 'Lost');

ALTER TABLE a67.replicas
    ADD COLUMN crashes             integer     NOT NULL DEFAULT 0,  -- crashes within the crash-loop window
    ADD COLUMN first_crash_at      timestamptz,                     -- the first crash of that window
    ADD COLUMN restart_count_seen  integer,                         -- the Engine's RestartCount in the last inventory
    ADD COLUMN restart_due_at      timestamptz,                     -- an exited replica is restarted at this time (back-off)
    ADD COLUMN crashed_run_at      timestamptz,                     -- StartedAt of the container run last counted as a crash (counted once)
    ADD COLUMN crash_looping_at    timestamptz;                     -- marked: no more restarts until an operation replaces it

CREATE TABLE a67.orphan_containers (
    node_id        uuid        NOT NULL REFERENCES a67.nodes (id) ON DELETE CASCADE,
    container_id   text        NOT NULL,
    app            text        NOT NULL,      -- its automator67.app label
    generation     bigint,
    first_seen_at  timestamptz NOT NULL,
    removal_sent_at timestamptz,
    PRIMARY KEY (node_id, container_id)
);

-- One row per sweep: whether rescheduling is paused (more than half of the nodes silent at once).
CREATE TABLE a67.sweep_state (
    sweep         text        PRIMARY KEY,
    paused_since  timestamptz,
    last_run_at   timestamptz
);

ALTER TABLE a67.replicas ADD COLUMN restart_sent_at timestamptz;  -- the reconcile sweep's last restart of it (sent again if the container is still down a minute later)

ALTER TABLE a67.operations DROP CONSTRAINT operations_kind_check;
ALTER TABLE a67.operations ADD CONSTRAINT operations_kind_check CHECK (kind IN ('deploy', 'scale', 'rollback', 'restart', 'stop', 'start', 'remove', 'heal'));

-- Every sweep run, for operators and for the proof that each runs once per tick across processes; pruned after a day.
CREATE TABLE a67.sweep_runs (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sweep        text        NOT NULL,
    started_at   timestamptz NOT NULL,
    duration_ms  integer     NOT NULL,
    process      text        NOT NULL,
    detail       jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX sweep_runs_sweep ON a67.sweep_runs (sweep, started_at DESC);
