"""Two-way reconciliation of contacts, notes and tags between HighLevel and other apps."""

__version__ = "0.1.0"
