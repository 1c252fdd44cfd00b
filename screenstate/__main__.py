"""`python -m screenstate` is the `screenstate` command."""

from screenstate.cli import main

main()
