"""`python -m cvstream`."""

import sys

from cvstream.cli import main

sys.exit(main())
