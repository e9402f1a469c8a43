-- As ../0007_revision.up.sql.
ALTER TABLE runs ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
