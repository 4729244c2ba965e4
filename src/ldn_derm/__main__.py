"""`python -m ldn_derm` runs the CLI."""

from ldn_derm.cli import main

main()
