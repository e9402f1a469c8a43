DROP INDEX runs_by_job ON runs;
ALTER TABLE runs DROP COLUMN job_id;
ALTER TABLE runs DROP COLUMN executor;
