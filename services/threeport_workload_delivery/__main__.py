"""``python -m threeport_workload_delivery serve|migrate``."""

from threeport_runtime.cli import main
from threeport_workload_delivery.service import DEFINITION

raise SystemExit(main(DEFINITION))
