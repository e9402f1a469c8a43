DROP TABLE metric_summaries;
