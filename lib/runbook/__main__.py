"""``python -m runbook`` = the ``runbook`` command."""

from __future__ import annotations

import sys

from runbook.cli import main

sys.exit(main())
