"""`python -m sanas.demo` (`make demo`), and each trainer process it starts."""

from sanas.demo.run import main

raise SystemExit(main())
