"""``python -m nnbox``: the same as the ``nnbox`` command."""
import sys

from .cli import main

sys.exit(main())
