-- The control plane's side of the relay protocol: commands sent to relays and their results, the events already
-- applied (delivery is at least once), each node's latest inventory and its containers' stats, and the health of
-- the command path on the node row.

ALTER TABLE a67.nodes
    ADD COLUMN last_ping_sent_at          timestamptz,
    ADD COLUMN ping_outstanding_since     timestamptz,  -- the oldest ping not answered yet; null once the relay answers one
    ADD COLUMN last_ping_ok_at            timestamptz,
    ADD COLUMN command_latency_ms         integer,      -- the last answered ping: recorded to its result applied
    ADD COLUMN last_renewal_requested_at  timestamptz;  -- a credential renewal must be newer than this (no replay)

CREATE TABLE a67.relay_commands (
    id            uuid        PRIMARY KEY,            -- the command id (v7, time-ordered)
    node_id       uuid        NOT NULL REFERENCES a67.nodes (id) ON DELETE CASCADE,
    account_id    uuid        NOT NULL,
    kind          text        NOT NULL,
    operation_id  uuid,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    status        text        NOT NULL DEFAULT 'Pending'
                              CHECK (status IN ('Pending', 'Succeeded', 'Failed', 'Refused', 'Expired')),
    result        jsonb,                              -- the relay's CommandResult, as it sent it
    completed_at  timestamptz
);
CREATE INDEX relay_commands_node ON a67.relay_commands (node_id, created_at DESC);
CREATE INDEX relay_commands_operation ON a67.relay_commands (operation_id) WHERE operation_id IS NOT NULL;
CREATE INDEX relay_commands_pending ON a67.relay_commands (expires_at) WHERE status = 'Pending';

-- Events applied, per node, so a redelivered message changes nothing. Kept longer than an event may be old
-- (older events are refused), pruned by the command-path health job.
CREATE TABLE a67.relay_seen_events (
    node_id   uuid        NOT NULL,
    event_id  uuid        NOT NULL,
    seen_at   timestamptz NOT NULL,
    PRIMARY KEY (node_id, event_id)
);
CREATE INDEX relay_seen_events_seen ON a67.relay_seen_events (seen_at);

-- The labelled containers of each node's latest complete heartbeat.
CREATE TABLE a67.node_inventory (
    node_id      uuid        PRIMARY KEY REFERENCES a67.nodes (id) ON DELETE CASCADE,
    sent_at      timestamptz NOT NULL,                -- the heartbeat's: an older heartbeat never replaces a newer one
    received_at  timestamptz NOT NULL,
    containers   jsonb       NOT NULL
);

-- Parts of a heartbeat too large for one message, until all of them have arrived.
CREATE TABLE a67.node_heartbeat_parts (
    node_id        uuid        NOT NULL REFERENCES a67.nodes (id) ON DELETE CASCADE,
    heartbeat_key  text        NOT NULL,
    part           integer     NOT NULL,
    parts          integer     NOT NULL,
    sent_at        timestamptz NOT NULL,
    containers     jsonb       NOT NULL,
    PRIMARY KEY (node_id, heartbeat_key, part)
);

-- One row per container per heartbeat (retention comes with the sweeps).
CREATE TABLE a67.container_stats (
    node_id       uuid             NOT NULL REFERENCES a67.nodes (id) ON DELETE CASCADE,
    container_id  text             NOT NULL,
    app           text             NOT NULL,
    release       text             NOT NULL,
    replica       integer          NOT NULL,
    at            timestamptz      NOT NULL,
    cpu_percent   double precision NOT NULL,
    memory_used   bigint           NOT NULL,
    memory_limit  bigint           NOT NULL,
    network_rx    bigint           NOT NULL,
    network_tx    bigint           NOT NULL
);
CREATE INDEX container_stats_node ON a67.container_stats (node_id, at);
CREATE INDEX container_stats_app ON a67.container_stats (app, at);
