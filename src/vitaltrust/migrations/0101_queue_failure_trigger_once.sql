-- on_job_failure logs a job once, when it becomes 'failed' (not when a failed row is
-- updated again, e.g. by an operator's UPDATE).
DROP TRIGGER on_job_failure ON background_jobs;
CREATE TRIGGER on_job_failure
    AFTER UPDATE OF status ON background_jobs
    FOR EACH ROW
    WHEN (NEW.status = 'failed' AND OLD.status IS DISTINCT FROM 'failed')
    EXECUTE FUNCTION notify_failed_job();
