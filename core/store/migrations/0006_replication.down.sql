DROP TABLE replica_cursors;
