"""``python -m threeport_addon_manager serve|migrate``."""

from threeport_addon_manager.service import DEFINITION
from threeport_runtime.cli import main

raise SystemExit(main(DEFINITION))
