"""Eight LibOSDP readers on one simulated RS-485 bus (a PTY): every byte the control panel
sends reaches every reader, as on a multi-drop line; each reader answers only to its address.
Prints the PTY path; `card N` on stdin presents card "123 4567" at address N. With PD_SCBK set
(32 hex digits) every reader holds that key and enforces the secure channel."""
import fcntl
import os
import sys
import threading
import time
import tty

from osdp import Capability, CardFormat, Channel, Event, LibFlag, LogLevel, PDCapabilities, PDInfo, PeripheralDevice

master, slave = os.openpty()
tty.setraw(master)
tty.setraw(slave)
fcntl.fcntl(master, fcntl.F_SETFL, fcntl.fcntl(master, fcntl.F_GETFL) | os.O_NONBLOCK)
lock = threading.Lock()
inboxes = []


class BusChannel(Channel):
    """One reader's tap on the bus: reads see every byte sent on the line."""

    def __init__(self):
        super().__init__()
        self.inbox = bytearray()
        inboxes.append(self)

    def read(self, max_bytes):
        with lock:
            try:
                data = os.read(master, 4096)
            except BlockingIOError:
                data = b""
            for box in inboxes:
                box.inbox.extend(data)
            out = bytes(self.inbox[:max_bytes])
            del self.inbox[:max_bytes]
            return out

    def write(self, buf):
        with lock:
            return os.write(master, buf)

    def flush(self):
        pass


capabilities = PDCapabilities([(Capability.LEDControl, 1, 1), (Capability.AudibleControl, 1, 1), (Capability.CardDataFormat, 1, 1)])
readers = {}
scbk = os.environ.get("PD_SCBK")
for address in range(1, 9):
    info = PDInfo(address, BusChannel(), scbk=bytes.fromhex(scbk) if scbk else None,
                  flags=[LibFlag.EnforceSecure] if scbk else [])
    pd = PeripheralDevice(info, capabilities, log_level=LogLevel.Error)
    pd.lock = threading.Lock()
    readers[address] = pd


def refresh_all():
    # LibOSDP's own loop sleeps 20 ms between refreshes, slower than a real reader answers;
    # this one refreshes every reader every half millisecond.
    while True:
        for pd in readers.values():
            with pd.lock:
                pd.ctx.refresh()
        time.sleep(0.0005)


threading.Thread(target=refresh_all, daemon=True).start()
print(os.ttyname(slave), flush=True)

H10301_123_4567 = [1, 0, 1, 1, 1, 1, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 0, 1, 0, 1, 1, 1, 0]
for line in sys.stdin:
    words = line.split()
    if words and words[0] == "card":
        data = bytearray(4)
        for i, bit in enumerate(H10301_123_4567):
            if bit:
                data[i // 8] |= 0x80 >> (i % 8)
        readers[int(words[1])].submit_event({"event": Event.CardRead, "reader_no": 0, "direction": 0,
                                            "format": CardFormat.Wiegand, "length": 26, "data": bytes(data)})
        print("ok", flush=True)
