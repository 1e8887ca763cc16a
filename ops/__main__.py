"""`python3 -m ops`: the command line lives in ops/cli/main.py."""

import sys

from ops.cli.main import main

sys.exit(main())
