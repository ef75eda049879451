"""Paths of the vendored official HighLevel specs (see README.md beside this file)."""

from pathlib import Path

GHL_OPENAPI = Path(__file__).resolve().parent / "ghl-openapi"
API_DOCS = GHL_OPENAPI / "highlevel-api-docs"
WEBHOOK_SCHEMAS = GHL_OPENAPI / "webhook-event-schemas"
