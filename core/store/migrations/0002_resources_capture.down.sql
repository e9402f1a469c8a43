DROP TABLE run_capture;
DROP TABLE run_resources;
