"""`python -m sanas.cli`: the `sanas` program."""

from .program import main

raise SystemExit(main())
