"""`python -m numberguard_ops.cli` runs the `numberguard` command."""

import sys

from numberguard_ops.cli import main

sys.exit(main())
