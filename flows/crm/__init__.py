"""CRM connectors. Each turns a CRM's HTTP API into pages of :class:`flows.warehouse.database.RawRecord`."""
