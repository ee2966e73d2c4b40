"""A card reader for Keyway's OSDP tests: LibOSDP's peripheral device (the C reference
implementation, PyPI libosdp) on one end of a PTY pair.

It prints the PTY path for the control panel, then obeys lines on stdin:
  card     present card "123 4567" (26-bit H10301) as a raw Wiegand read
  keys     enter 1234 on the keypad
  cmd      print the next command received from the control panel (LED, buzzer, ...)
  unplug   stop answering (the cable pulled)
  plug     answer again
  sc       print whether the secure channel is active

With PD_SCBK set (32 hex digits) the reader holds that key and enforces the secure channel:
it refuses every command in the clear except the handshake (unless PD_ENFORCE=0). Without it, it is in install
mode (it takes the default key SCBK-D, or no secure channel).
"""
import fcntl
import os
import sys
import tty

from osdp import Capability, CardFormat, Channel, Event, LibFlag, LogLevel, PDCapabilities, PDInfo, PeripheralDevice


class PtyChannel(Channel):
    def __init__(self, fd):
        super().__init__()
        self.fd = fd
        self.plugged = True

    def read(self, max_bytes):
        try:
            data = os.read(self.fd, max_bytes)
        except BlockingIOError:
            return b""
        return data if self.plugged else b""

    def write(self, buf):
        if self.plugged:
            return os.write(self.fd, buf)
        return len(buf)

    def flush(self):
        pass


master, slave = os.openpty()
tty.setraw(master)
tty.setraw(slave)
fcntl.fcntl(master, fcntl.F_SETFL, fcntl.fcntl(master, fcntl.F_GETFL) | os.O_NONBLOCK)
channel = PtyChannel(master)
capabilities = PDCapabilities([
    (Capability.LEDControl, 1, 1),
    (Capability.AudibleControl, 1, 1),
    (Capability.CardDataFormat, 1, 1),
])
scbk = os.environ.get("PD_SCBK")
info = PDInfo(int(os.environ.get("PD_ADDRESS", "1")), channel,
              scbk=bytes.fromhex(scbk) if scbk else None,
              flags=[LibFlag.EnforceSecure] if scbk and os.environ.get("PD_ENFORCE", "1") == "1" else [])
pd = PeripheralDevice(info, capabilities, log_level=LogLevel.Warning)
pd.start()
print(os.ttyname(slave), flush=True)

H10301_123_4567 = [1, 0, 1, 1, 1, 1, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 0, 1, 0, 1, 1, 1, 0]

for line in sys.stdin:
    line = line.strip()
    if line == "card":
        data = bytearray((len(H10301_123_4567) + 7) // 8)
        for i, bit in enumerate(H10301_123_4567):
            if bit:
                data[i // 8] |= 0x80 >> (i % 8)
        pd.submit_event({"event": Event.CardRead, "reader_no": 0, "direction": 0,
                         "format": CardFormat.Wiegand, "length": len(H10301_123_4567), "data": bytes(data)})
        print("ok", flush=True)
    elif line == "keys":
        pd.submit_event({"event": Event.KeyPress, "reader_no": 0, "data": b"1234"})
        print("ok", flush=True)
    elif line == "cmd":
        print("command", pd.get_command(timeout=5), flush=True)
    elif line == "unplug":
        channel.plugged = False
        print("ok", flush=True)
    elif line == "sc":
        print("sc", pd.is_sc_active(), flush=True)
    elif line == "plug":
        channel.plugged = True
        print("ok", flush=True)
