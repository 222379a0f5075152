"""The Zoho CRM connector (docs/connectors.md)."""
