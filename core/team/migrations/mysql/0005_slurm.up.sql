-- As ../0005_slurm.up.sql.
ALTER TABLE runs ADD COLUMN executor VARCHAR(16);
ALTER TABLE runs ADD COLUMN job_id VARCHAR(64);
CREATE INDEX runs_by_job ON runs (job_id);
