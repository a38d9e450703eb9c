"""The ``locator`` console command: geodata (build), locator (check) and api (serve)."""
