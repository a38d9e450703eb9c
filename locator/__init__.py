"""Station locator domain: loads a built artifact and answers questions.

Nothing here imports a web framework or reads raw OpenStreetMap data.
"""

__version__ = "0.1.0"
