"""`python -m screenstate.cli` is the `screenstate` command."""

from screenstate.cli import main

main()
