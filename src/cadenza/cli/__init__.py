"""The ``cadenza`` command line (Typer + Rich). Heavy modules are imported inside commands."""
