"""``python -m threeport_infra_provider serve|migrate``."""

from threeport_infra_provider.service import DEFINITION
from threeport_runtime.cli import main

raise SystemExit(main(DEFINITION))
