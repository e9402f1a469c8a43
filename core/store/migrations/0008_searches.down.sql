DROP INDEX search_points_by_run;
DROP TABLE search_points;
DROP INDEX searches_by_trial;
DROP TABLE searches;
