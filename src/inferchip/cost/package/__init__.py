"""A chip package's memory stacks and interposer."""
