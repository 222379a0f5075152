"""The local Fxiaoke (纷享销客) OpenAPI sandbox: gateway, encoding, faults."""
