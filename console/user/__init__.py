"""The panes of one user's page: comparison, diagnosis, recent runs, item history."""
