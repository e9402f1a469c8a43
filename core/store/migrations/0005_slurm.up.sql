-- Where a run executes: NULL or 'local' for a process of its runner,
-- 'slurm' for a Slurm job, with the job's id (so that a runner started
-- later re-attaches to a job still queued or running instead of
-- submitting it again, and crash recovery can ask Slurm how it ended).
ALTER TABLE runs ADD COLUMN executor TEXT;
ALTER TABLE runs ADD COLUMN job_id TEXT;
CREATE INDEX runs_by_job ON runs (job_id);
