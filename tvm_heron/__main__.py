"""``python -m tvm_heron``: the command line."""

import sys

from .cli import main

sys.exit(main())
