DROP INDEX runs_by_job;
ALTER TABLE runs DROP COLUMN job_id;
ALTER TABLE runs DROP COLUMN executor;
