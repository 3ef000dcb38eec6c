"""The reply memory: the replies to the last 8 request ids, so that a retry is answered again
without being executed twice (protocol v1, sections 2 and 5).

Two short parallel lists, oldest first: 8 entries need no hashing, and a MicroPython dict
would not keep the order needed to forget the oldest.
"""

SIZE = 8


class Replies:
    def __init__(self, size=SIZE):
        self.size = size
        self._ids = []
        self._frames = []

    def get(self, rid):
        """The stored reply frame (bytes) for request id `rid`, or None."""
        for k in range(len(self._ids)):
            if self._ids[k] == rid:
                return self._frames[k]
        return None

    def put(self, rid, frame):
        """Remember the reply to `rid`, forgetting the oldest beyond `size`. A lookup does not
        refresh an entry: the memory is of the last ids answered, not the last asked."""
        self._ids.append(rid)
        self._frames.append(frame)
        if len(self._ids) > self.size:
            self._ids.pop(0)
            self._frames.pop(0)

    def clear(self):
        """Forget everything (power-up, and an executed `hello` before its own reply is put)."""
        self._ids = []
        self._frames = []

    def __len__(self):
        return len(self._ids)
