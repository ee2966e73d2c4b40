"""LibOSDP's own control panel (the C reference implementation, PyPI libosdp) on the PTY of a
bus of readers (libosdp_bus.py), for the OSDP benchmark: the same readers driven by the
reference panel, to compare with Keyway's. Arguments: the PTY path, the number of readers
(addresses 1..N). With PD_SCBK set (32 hex digits) every reader is set up with that key.
Prints "online" once every reader is on-line (secure when keyed), then "card N" the moment a
card read from reader N is delivered."""
import os
import sys
import time
import tty

from osdp import Channel, ControlPanel, Event, LogLevel, PDInfo

path, count = sys.argv[1], int(sys.argv[2])
fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
tty.setraw(fd)


class PtyChannel(Channel):
    def __init__(self):
        super().__init__()

    def read(self, max_bytes):
        try:
            return os.read(fd, max_bytes)
        except BlockingIOError:
            return b""

    def write(self, buf):
        return os.write(fd, buf)

    def flush(self):
        pass


scbk = os.environ.get("PD_SCBK")
channel = PtyChannel()
infos = [PDInfo(address, channel, scbk=bytes.fromhex(scbk) if scbk else None)
         for address in range(1, count + 1)]


def on_event(pd, event):
    if event.get("event") == Event.CardRead:
        print("card", pd + 1, flush=True)
    return 0


cp = ControlPanel(infos, log_level=LogLevel.Error, event_handler=on_event)
cp.start()
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    if all(cp.is_online(a) and (not scbk or cp.is_sc_active(a)) for a in range(1, count + 1)):
        break
    time.sleep(0.05)
print("online", flush=True)
for line in sys.stdin:
    pass
