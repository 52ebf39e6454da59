"""L6: command line, reports and the Python API."""
