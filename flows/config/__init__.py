"""Settings, the config/ file loaders and the company calendar."""
