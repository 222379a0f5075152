"""Target locking, history and checks."""
