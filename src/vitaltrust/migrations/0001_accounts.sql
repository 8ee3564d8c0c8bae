-- Accounts: users, trainer assignments, sessions, API tokens, audit log.
-- Per-user tables carry user_id first in their primary key (Citus-ready).

CREATE TABLE users (
    user_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         text NOT NULL,
    display_name  text,
    role          text NOT NULL CHECK (role IN ('admin', 'trainer', 'client')),
    password_hash text,
    time_zone     text NOT NULL DEFAULT 'UTC' CHECK (time_zone <> ''),
    -- demo users (serve --demo) and self-test sandbox users are kept out of statistics
    is_demo       boolean NOT NULL DEFAULT false,
    is_sandbox    boolean NOT NULL DEFAULT false,
    disabled_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_email_shape CHECK (email ~ '^[^@\s]+@[^@\s]+$')
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE trainer_clients (
    client_id   bigint NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    trainer_id  bigint NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    assigned_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, trainer_id),
    CHECK (client_id <> trainer_id)
);
CREATE INDEX trainer_clients_trainer ON trainer_clients (trainer_id, client_id);

-- Session cookies and bearer tokens are stored as SHA-256 of the random token only.
CREATE TABLE sessions (
    user_id      bigint NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    token_hash   bytea NOT NULL CHECK (length(token_hash) = 32),
    csrf_hash    bytea NOT NULL CHECK (length(csrf_hash) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    user_agent   text,
    PRIMARY KEY (user_id, token_hash)
);
CREATE UNIQUE INDEX sessions_token_hash ON sessions (token_hash);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE api_tokens (
    user_id      bigint NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    token_id     bigint GENERATED ALWAYS AS IDENTITY,
    name         text NOT NULL DEFAULT 'api',
    token_hash   bytea NOT NULL CHECK (length(token_hash) = 32),
    token_prefix text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    expires_at   timestamptz,
    revoked_at   timestamptz,
    PRIMARY KEY (user_id, token_id)
);
CREATE UNIQUE INDEX api_tokens_token_hash ON api_tokens (token_hash);

-- Every manual action (retry, recalculate, priority change, self-test, user admin).
CREATE TABLE audit_log (
    audit_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_id   bigint REFERENCES users (user_id) ON DELETE SET NULL,
    actor_role text,
    action     text NOT NULL,
    target     text,
    details    jsonb NOT NULL DEFAULT '{}'::jsonb,
    result     text NOT NULL CHECK (result IN ('ok', 'error', 'denied')),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_created ON audit_log (created_at);
