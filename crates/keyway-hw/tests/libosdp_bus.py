"""Eight LibOSDP readers on one simulated RS-485 bus (a PTY): every byte the control panel
sends reaches every reader, as on a multi-drop line; each reader answers only to its address.
Prints the PTY path; `card N` on stdin presents card "123 4567" at address N; `cycles` prints
the poll cycle as reader 1 sees it (the times between commands to it) since the last
`cycles`: median, 99th percentile and longest, in ms. With PD_SCBK set
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
# When reader 1 was sent a command, to see the poll cycle from the readers' side.
commands_to_1 = []


def first_packet_end(buf):
    """Where the first OSDP packet in `buf` ends (or all of `buf` if it is incomplete)."""
    if len(buf) >= 4 and buf[0] == 0x53:
        return min(len(buf), max(4, buf[2] | buf[3] << 8))
    start = buf.find(b"\x53", 1)
    return len(buf) if start < 0 else start


class BusChannel(Channel):
    """One reader's tap on the bus: reads see every byte sent on the line, at most one packet
    at a time, as a reader reading its UART as bytes arrive would. (Handing LibOSDP several
    packets in one read makes it drop its own packet behind another reader's now and then.)"""

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
            n = min(max_bytes, first_packet_end(self.inbox))
            out = bytes(self.inbox[:n])
            del self.inbox[:n]
            if self is inboxes[0] and len(out) > 1 and out[0] == 0x53 and out[1] == 0x01:
                commands_to_1.append(time.monotonic())
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
    elif words and words[0] == "cycles":
        with lock:
            times, commands_to_1[:] = list(commands_to_1), []
        gaps = sorted((b - a) * 1000 for a, b in zip(times, times[1:]))
        if gaps:
            print("cycles %.2f %.2f %.2f" % (gaps[len(gaps) // 2], gaps[int((len(gaps) - 1) * 0.99)], gaps[-1]), flush=True)
        else:
            print("cycles 0 0 0", flush=True)
