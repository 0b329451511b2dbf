"""Entry point for `python -m threeport_kubesim`."""

import sys

from threeport_kubesim.cli import main

sys.exit(main())
