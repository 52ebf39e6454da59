"""``python -m inferchip``: the ``inferchip`` command, for an environment whose scripts folder is not on the path."""

import sys

from inferchip.interfaces.cli import main

if __name__ == "__main__":
    sys.exit(main())
