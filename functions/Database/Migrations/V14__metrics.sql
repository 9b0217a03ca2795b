-- Metrics (issue 6): container stats rolled up to minute and hour buckets, kept longer than the raw points, and the
-- watermark of the rollup. See docs/metrics.md.

-- Restarts and counter resets: Docker's RestartCount, and when the container last started (a change means its network
-- counters began again from zero).
ALTER TABLE a67.container_stats
    ADD COLUMN restart_count  integer     NOT NULL DEFAULT 0,
    ADD COLUMN started_at     timestamptz;
-- Rollup windows and retention read raw points by time across all nodes.
CREATE INDEX container_stats_at ON a67.container_stats (at);

-- One row per container per minute. Network and restarts are what happened within the bucket (deltas of the
-- cumulative counters, a reset counted from zero); last_* are the bucket's last sample, where the next bucket's deltas
-- start when its raw predecessor is gone.
CREATE TABLE a67.container_metrics_minute (
    node_id             uuid             NOT NULL REFERENCES a67.nodes (id) ON DELETE CASCADE,
    container_id        text             NOT NULL,
    bucket              timestamptz      NOT NULL,  -- start of the minute (UTC)
    app                 text             NOT NULL,  -- the container's labels (the app's id, "N" format), as in container_stats
    release             text             NOT NULL,
    replica             integer          NOT NULL,
    samples             integer          NOT NULL,
    cpu_avg             double precision NOT NULL,
    cpu_max             double precision NOT NULL,
    memory_avg          double precision NOT NULL,
    memory_max          bigint           NOT NULL,
    memory_limit        bigint           NOT NULL,
    network_rx          bigint           NOT NULL,
    network_tx          bigint           NOT NULL,
    restarts            integer          NOT NULL,
    last_at             timestamptz      NOT NULL,
    last_rx             bigint           NOT NULL,
    last_tx             bigint           NOT NULL,
    last_restart_count  integer          NOT NULL,
    last_started_at     timestamptz,
    PRIMARY KEY (node_id, container_id, bucket)
);
CREATE INDEX container_metrics_minute_app ON a67.container_metrics_minute (app, bucket);
CREATE INDEX container_metrics_minute_bucket ON a67.container_metrics_minute (bucket);

CREATE TABLE a67.container_metrics_hour (
    node_id       uuid             NOT NULL REFERENCES a67.nodes (id) ON DELETE CASCADE,
    container_id  text             NOT NULL,
    bucket        timestamptz      NOT NULL,
    app           text             NOT NULL,
    release       text             NOT NULL,
    replica       integer          NOT NULL,
    samples       integer          NOT NULL,
    cpu_avg       double precision NOT NULL,
    cpu_max       double precision NOT NULL,
    memory_avg    double precision NOT NULL,
    memory_max    bigint           NOT NULL,
    memory_limit  bigint           NOT NULL,
    network_rx    bigint           NOT NULL,
    network_tx    bigint           NOT NULL,
    restarts      integer          NOT NULL,
    PRIMARY KEY (node_id, container_id, bucket)
);
CREATE INDEX container_metrics_hour_app ON a67.container_metrics_hour (app, bucket);
CREATE INDEX container_metrics_hour_bucket ON a67.container_metrics_hour (bucket);

-- Totals per node and heartbeat (app = ''), or per app's containers on a node and heartbeat, rolled up: the average
-- and the highest total of one heartbeat, over the heartbeats that measured any of those containers.
CREATE TABLE a67.node_metrics_minute (
    node_id     uuid             NOT NULL REFERENCES a67.nodes (id) ON DELETE CASCADE,
    app         text             NOT NULL,  -- '': every container of the node
    bucket      timestamptz      NOT NULL,
    heartbeats  integer          NOT NULL,
    cpu_avg     double precision NOT NULL,
    cpu_max     double precision NOT NULL,
    memory_avg  double precision NOT NULL,
    memory_max  bigint           NOT NULL,
    network_rx  bigint           NOT NULL,
    network_tx  bigint           NOT NULL,
    restarts    integer          NOT NULL,
    PRIMARY KEY (node_id, app, bucket)
);
CREATE INDEX node_metrics_minute_app ON a67.node_metrics_minute (app, bucket) WHERE app <> '';
CREATE INDEX node_metrics_minute_bucket ON a67.node_metrics_minute (bucket);

CREATE TABLE a67.node_metrics_hour (
    node_id     uuid             NOT NULL REFERENCES a67.nodes (id) ON DELETE CASCADE,
    app         text             NOT NULL,
    bucket      timestamptz      NOT NULL,
    heartbeats  integer          NOT NULL,
    cpu_avg     double precision NOT NULL,
    cpu_max     double precision NOT NULL,
    memory_avg  double precision NOT NULL,
    memory_max  bigint           NOT NULL,
    network_rx  bigint           NOT NULL,
    network_tx  bigint           NOT NULL,
    restarts    integer          NOT NULL,
    PRIMARY KEY (node_id, app, bucket)
);
CREATE INDEX node_metrics_hour_app ON a67.node_metrics_hour (app, bucket) WHERE app <> '';
CREATE INDEX node_metrics_hour_bucket ON a67.node_metrics_hour (bucket);

-- The rollup's watermarks: minute buckets before rolled_until are rolled up, hour buckets before hours_rolled_until.
-- Each pass rolls again the minutes of Metrics__RollupLateness before rolled_until (and their hours), so heartbeats
-- applied late (a backlog after an outage) still count.
CREATE TABLE a67.metrics_rollup (
    id                  boolean     PRIMARY KEY DEFAULT true CHECK (id),
    rolled_until        timestamptz NOT NULL,
    hours_rolled_until  timestamptz NOT NULL
);

-- /metrics counts step retries by step; a partial index keeps that scrape cheap.
CREATE INDEX operation_history_retries ON a67.operation_history (step) WHERE type = 'retry-scheduled';
