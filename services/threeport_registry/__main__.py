"""``python -m threeport_registry serve|migrate``."""

from threeport_registry.service import DEFINITION
from threeport_runtime.cli import main

raise SystemExit(main(DEFINITION))
