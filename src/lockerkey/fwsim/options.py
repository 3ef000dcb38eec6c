"""``lockerkey simulate --firmware --board FILE``: the command line's options, checked."""

from __future__ import annotations

import argparse
import random

from lockerkey.fwsim.controller import FirmwareController
from lockerkey.fwsim.firmware import read_board

DEFAULT_SLOTS = 24  # the parser's default for --slots: not given, as far as can be told


def firmware_controller(args: argparse.Namespace, rng: random.Random) -> FirmwareController:
    """The firmware on simulated pins for the board file ``args.board``.

    The board file says what the cabinet is; ``--slots``, ``--shared-door`` and ``--doors``
    may only repeat it (ValueError naming the clash, or a board file that cannot be used).
    """
    if not args.firmware:
        raise ValueError("--board goes with --firmware")
    if args.board is None:
        raise ValueError("--firmware needs --board FILE (a board file, see firmware/boards/)")
    spec = read_board(args.board)
    clashes = []
    if args.slots not in (DEFAULT_SLOTS, spec.slots):
        clashes.append(f"--slots {args.slots} (the board has {spec.slots} slots)")
    if args.shared_door and not spec.shared:
        clashes.append("--shared-door (the board is per_slot)")
    if args.doors and not any(spec.doors[1:]):
        clashes.append("--doors (the board has no door sensor per slot)")
    if clashes:
        raise ValueError(
            f"with --firmware the board file {args.board} says what the cabinet is;"
            f" leave out {', '.join(clashes)}"
        )
    return FirmwareController(spec, rng=rng)
