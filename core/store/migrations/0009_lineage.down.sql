DROP TABLE artifact_aliases;
DROP INDEX artifacts_by_content;
DROP INDEX run_inputs_by_content;
DROP INDEX run_inputs_by_source;
DROP INDEX run_inputs_by_run;
DROP TABLE run_inputs;
