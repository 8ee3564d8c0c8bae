-- Login throttling shared by every API process: one row per (scope, subject), counting
-- attempts in a fixed window that starts at the first attempt. A successful login
-- clears its e-mail's row and gives the attempt back to its IP.
CREATE TABLE login_throttle (
    scope             text NOT NULL CHECK (scope IN ('email', 'ip')),
    subject           text NOT NULL CHECK (length(subject) <= 320),
    window_started_at timestamptz NOT NULL DEFAULT now(),
    attempts          integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    PRIMARY KEY (scope, subject)
);
CREATE INDEX login_throttle_window ON login_throttle (window_started_at);

-- Audit queries: "what did this person do", "every retry in the last day".
CREATE INDEX audit_log_actor_created ON audit_log (actor_id, created_at);
CREATE INDEX audit_log_action_created ON audit_log (action, created_at);
