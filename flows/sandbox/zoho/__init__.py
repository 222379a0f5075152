"""The local Zoho CRM v8 sandbox: accounts (OAuth) host and API host, its encoding and faults."""
