"""Local CRM servers (Zoho CRM v8, Fxiaoke OpenAPI) and the data they serve.

Product code, not test scaffolding: the demo, the tests and the benchmarks all talk HTTP to
these servers, exactly as the pipeline talks to the real CRMs.
"""
