"""`python -m roibench`."""

from roibench.cli import main

main()
