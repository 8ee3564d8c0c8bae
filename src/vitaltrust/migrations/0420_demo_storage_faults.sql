-- Demo mode (`vitaltrust serve --demo`): a simulated, transient storage outage for chosen
-- demo clients, so that the live simulator produces real failed jobs that "Retry failed
-- jobs" can then finish. The trigger that consults this table is created by the demo
-- seeding only (demo databases), never here: other databases pay nothing for it.

CREATE TABLE demo_storage_faults (
    user_id    bigint PRIMARY KEY REFERENCES users (user_id) ON DELETE CASCADE,
    reason     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION demo_storage_fault_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM demo_storage_faults f WHERE f.user_id = NEW.user_id) THEN
        RAISE EXCEPTION 'demo: simulated storage outage for user % (transient; retry after it ends)',
            NEW.user_id USING ERRCODE = 'lock_not_available';
    END IF;
    RETURN NEW;
END
$$;
REVOKE EXECUTE ON FUNCTION demo_storage_fault_check() FROM PUBLIC;
