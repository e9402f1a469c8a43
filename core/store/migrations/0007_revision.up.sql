-- A run's revision: raised by every write that changes what is recorded
-- of a run outside its state (points ingested, artifacts added or
-- deleted, tags, events, hardware samples, the resource summary, the
-- capture). Replication compares it with what it last sent, so a run
-- changed after it ended (the sampler's summary, a late hook's warning,
-- a checkpoint deleted by the end callbacks) is sent again.
ALTER TABLE runs ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
