"""Allow ``python -m clusterous``."""

from clusterous.cli.main import main

main()
