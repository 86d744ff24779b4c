import sys

from pettriage.cli import main

sys.exit(main())
