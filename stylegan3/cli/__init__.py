"""Command-line interface: `sg3-explorer <command>`; one module per command in this package."""
