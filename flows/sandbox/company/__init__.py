"""The data the sandboxes serve: the CRM-neutral company model and its seeded generator."""
