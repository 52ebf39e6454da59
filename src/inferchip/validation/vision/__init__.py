"""Validation of the vision cost model against ``vision_cases.csv`` (MLPerf vision, MLPerf Automotive, Tesla)."""
