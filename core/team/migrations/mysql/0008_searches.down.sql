DROP TABLE search_points;
DROP TABLE searches;
