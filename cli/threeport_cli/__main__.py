"""Lets ``python -m threeport_cli`` behave like ``tptctl``."""

from threeport_cli.main import main

raise SystemExit(main())
