"""`python -m hiddenprimary` runs the daemon."""

import sys

from hiddenprimary.cli import daemon_main

sys.exit(daemon_main())
