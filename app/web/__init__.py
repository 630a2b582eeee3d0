"""HTTP: the route table, the base handler (auth, errors, JSON), API handlers, ops."""
