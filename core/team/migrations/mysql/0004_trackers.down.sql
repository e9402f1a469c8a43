DROP TABLE tracker_status;
DROP TABLE tracker_state;
