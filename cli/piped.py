"""Output to a pipe whose reader may leave first (`tally run | head`)."""


class UntilReaderGoes:
    """Standard output that stops writing, quietly, once its reader has gone (`tally run |
    head`): the command goes on and ends as it would have, instead of failing on a line that
    nobody reads."""

    def __init__(self, stream):
        self._stream = stream
        self.gone = False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self.gone = True
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self.gone = True

    def __getattr__(self, name):
        return getattr(self._stream, name)
