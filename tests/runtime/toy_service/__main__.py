"""``python -m tests.runtime.toy_service serve|migrate``, exactly as a real service's entry point."""

from threeport_runtime.cli import main

from .service import DEFINITION

raise SystemExit(main(DEFINITION))
