"""The Fxiaoke part of a company in the OpenAPI's record shapes, one module per group of objects."""
