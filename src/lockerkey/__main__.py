"""Allow ``python -m lockerkey``."""

from lockerkey.cli import main

raise SystemExit(main())
