"""The ``reconciler`` command line.

Each command lives in the module that owns it and registers itself here, so this file stays a
table of contents.
"""

from __future__ import annotations

import typer

from reconciler.api.cli import register as register_api
from reconciler.sandbox.cli import register as register_sandbox
from reconciler.service.cli import register as register_service

app = typer.Typer(
    name="reconciler",
    help="Two-way reconciliation of contacts, notes and tags.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
register_sandbox(app)
register_api(app)
register_service(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
