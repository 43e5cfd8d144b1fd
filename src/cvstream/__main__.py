"""`python -m cvstream`."""

import sys

from cvstream.entry import run

sys.exit(run())
