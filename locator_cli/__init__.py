"""The ``locator`` console command: glue between geodata (build), locator (check) and api (serve)."""
