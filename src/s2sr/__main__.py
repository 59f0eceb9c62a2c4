"""``python -m s2sr``: the ``s2sr`` command line."""

from s2sr.cli import main

main(prog_name="s2sr")
