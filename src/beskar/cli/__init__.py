"""The `beskar` command line: parse, call one operation, present the result."""

from beskar.cli.app import app, main

__all__ = ["app", "main"]
