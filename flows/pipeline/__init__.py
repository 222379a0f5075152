"""What the Prefect flows share: the run summary, step naming and common tasks."""
