"""Keeping the cyclic GC's passes out of the time between a key and its frame.

A pass scans every tracked object that is not frozen: with thousands of rows
and a case screen alive it takes 10-30 ms, and it struck while a keystroke, a
case being opened or the first frame was being drawn (research/perf-floors.md
§7). The console pauses it for those moments and resumes it once the frame is
out (`CasedeskApp.post_display_hook`), so that the collection runs in the idle
time after.

One pause at a time, for the process (the GC's switch is the process's): a
pause taken while the GC is already off does nothing, and `resume` only turns
back on what a pause turned off. The app also resumes any pause older than a
second on a timer and when it exits, so a frame that never comes cannot leave
the GC off.
"""

import gc
import time

_paused_at: float | None = None


def pause() -> None:
    """Turn the GC off until `resume` (if it is on): the app resumes it at its next frame."""
    global _paused_at
    if gc.isenabled():
        gc.disable()
        _paused_at = time.monotonic()


def resume(*, older_than: float = 0.0) -> None:
    """Turn the GC back on if a pause (at least `older_than` seconds old) turned it off."""
    global _paused_at
    if _paused_at is not None and time.monotonic() - _paused_at >= older_than:
        _paused_at = None
        gc.enable()
