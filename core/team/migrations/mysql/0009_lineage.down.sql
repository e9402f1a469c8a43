DROP TABLE artifact_aliases;
DROP INDEX artifacts_by_content ON artifacts;
DROP TABLE run_inputs;
