"""What a simulation records: the column-wise per-request table, the step log and the summary figures."""
