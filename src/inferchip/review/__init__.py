"""The design review of a claim: suite, ranking, sensitivity, chart data."""
