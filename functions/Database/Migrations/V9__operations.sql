-- Durable operations (deploy, scale, rollback, restart, stop, start, remove): one row each with its step machine's
-- position, an append-only history, and the replicas they place. See docs/operations.md.

ALTER TABLE a67.apps
    ADD COLUMN current_release_id  uuid REFERENCES a67.releases (id),  -- the release the app runs (after its last successful operation)
    ADD COLUMN replicas            integer NOT NULL DEFAULT 0,          -- desired replicas of the current release
    ADD COLUMN stopped             boolean NOT NULL DEFAULT false;

-- Placement generations: a replica placed anew gets the next one, so a superseded container can be told apart.
CREATE SEQUENCE a67.replica_generations;

CREATE TABLE a67.operations (
    id                 uuid        PRIMARY KEY,
    account_id         uuid        NOT NULL REFERENCES a67.accounts (id) ON DELETE CASCADE,
    app_id             uuid        REFERENCES a67.apps (id) ON DELETE SET NULL,  -- kept after the app is removed
    app_name           text        NOT NULL,
    kind               text        NOT NULL CHECK (kind IN ('deploy', 'scale', 'rollback', 'restart', 'stop', 'start', 'remove')),
    status             text        NOT NULL CHECK (status IN ('Pending', 'Running', 'Succeeded', 'Failed', 'Cancelled', 'RollingBack', 'RolledBack')),
    target_release_id  uuid        REFERENCES a67.releases (id) ON DELETE SET NULL,  -- what the app runs when this succeeds (null: nothing)
    target_replicas    integer     NOT NULL,
    from_release_id    uuid        REFERENCES a67.releases (id) ON DELETE SET NULL,  -- what it ran before (the rollback target)
    from_replicas      integer     NOT NULL,
    step               text        NOT NULL,
    attempts           jsonb       NOT NULL DEFAULT '{}',             -- step -> attempts so far
    cancel_requested   boolean     NOT NULL DEFAULT false,
    reason             text,                                          -- why it failed, rolled back or was cancelled
    deadline           timestamptz NOT NULL,                          -- past it, the operation fails (and rolls back)
    wake_at            timestamptz,                                   -- the next time it must look, if nothing wakes it sooner
    scheduled_wake_at  timestamptz,                                   -- the wake-up job already scheduled (no second one for the same time)
    created_by         uuid,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    finished_at        timestamptz
);
CREATE INDEX operations_app ON a67.operations (app_id, created_at DESC);
CREATE INDEX operations_wake ON a67.operations (wake_at) WHERE status IN ('Pending', 'Running', 'RollingBack');
-- One active operation per app: the second gets 409 naming the first.
CREATE UNIQUE INDEX operations_one_active ON a67.operations (app_id) WHERE status IN ('Pending', 'Running', 'RollingBack');

CREATE TABLE a67.operation_history (
    operation_id  uuid        NOT NULL REFERENCES a67.operations (id) ON DELETE CASCADE,
    seq           bigint      GENERATED ALWAYS AS IDENTITY,
    at            timestamptz NOT NULL,
    type          text        NOT NULL,   -- step-started, command-sent, result, retry-scheduled, timeout, rollback, ...
    step          text,
    message       text        NOT NULL,
    data          jsonb,
    PRIMARY KEY (operation_id, seq)
);

-- Every replica the control plane has placed: which release, slot and node, its generation, and where its
-- lifecycle stands. The command in flight for it (if any) is `command_id`.
CREATE TABLE a67.replicas (
    id              uuid        PRIMARY KEY,
    app_id          uuid        NOT NULL REFERENCES a67.apps (id) ON DELETE CASCADE,
    release_id      uuid        NOT NULL REFERENCES a67.releases (id) ON DELETE CASCADE,
    slot            integer     NOT NULL,
    node_id         uuid        NOT NULL REFERENCES a67.nodes (id) ON DELETE CASCADE,
    generation      bigint      NOT NULL,
    state           text        NOT NULL CHECK (state IN ('Placed', 'Starting', 'Started', 'Probing', 'Healthy', 'Stopping', 'Stopped',
                                                          'Restarting', 'Retiring', 'Removing', 'Removed', 'Failed')),
    operation_id    uuid,                             -- the operation that last acted on it
    command_id      uuid,
    command_sent_at timestamptz,
    attempts        integer     NOT NULL DEFAULT 0,   -- failed starts of this replica in this operation
    probe_failures  integer     NOT NULL DEFAULT 0,
    next_at         timestamptz,                      -- when its next command may go (retry delay, probe interval)
    started_at      timestamptz,
    healthy_at      timestamptz,
    container_id    text,
    ports           jsonb       NOT NULL DEFAULT '[]',
    last_error      text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX replicas_app ON a67.replicas (app_id, release_id, slot) WHERE state <> 'Removed';
CREATE INDEX replicas_node ON a67.replicas (node_id) WHERE state <> 'Removed';
-- One live placement per slot of a release.
CREATE UNIQUE INDEX replicas_one_per_slot ON a67.replicas (release_id, slot) WHERE state NOT IN ('Removed', 'Failed');

-- Image pulls per operation and node: a node pulls a release's image once per operation.
CREATE TABLE a67.operation_pulls (
    operation_id  uuid        NOT NULL REFERENCES a67.operations (id) ON DELETE CASCADE,
    release_id    uuid        NOT NULL REFERENCES a67.releases (id) ON DELETE CASCADE,
    node_id       uuid        NOT NULL REFERENCES a67.nodes (id) ON DELETE CASCADE,
    state         text        NOT NULL CHECK (state IN ('Pulling', 'Pulled', 'Failed')),
    command_id    uuid,
    command_sent_at timestamptz,
    attempts      integer     NOT NULL DEFAULT 0,
    next_at       timestamptz,
    last_error    text,
    PRIMARY KEY (operation_id, release_id, node_id)
);
