"""`python -m roibench`."""

from roibench.cli.app import main

main()
