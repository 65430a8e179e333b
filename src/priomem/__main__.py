"""``python -m priomem`` runs the CLI."""

import sys

from priomem.cli import main

sys.exit(main())
