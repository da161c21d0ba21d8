"""``python -m realtime`` is the same as the ``callshield`` command."""

import sys

from realtime.cli import main

sys.exit(main())
