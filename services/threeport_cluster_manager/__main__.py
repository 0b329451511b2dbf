"""``python -m threeport_cluster_manager serve|migrate``."""

from threeport_cluster_manager.service import DEFINITION
from threeport_runtime.cli import main

raise SystemExit(main(DEFINITION))
