"""Zoho CRM v8 record shapes: wire conventions, record encoding, field metadata."""
