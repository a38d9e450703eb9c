"""HTTP routers, one module per resource (each exposes ``router`` or an ``include_*`` function)."""
