"""A card reader for Keyway's OSDP tests: LibOSDP's peripheral device (the C reference
implementation, PyPI libosdp) on one end of a PTY pair.

It prints the PTY path for the control panel, then obeys lines on stdin:
  card     present card "123 4567" (26-bit H10301) as a raw Wiegand read
  keys     enter 1234 on the keypad
  cmd      print the next command received from the control panel (LED, buzzer, ...)
  unplug   stop answering (the cable pulled)
  plug     answer again
  sc       print whether the secure channel is active
  tamper   report the tamper switch open (osdp_LSTATR on the next poll)
  closed   report the tamper switch closed again
  key      print the key it holds now (after an osdp_KEYSET), as hex
  input N on|off   set its input N (of 2) and report the inputs (osdp_ISTATR)

With PD_SCBK set (32 hex digits) the reader holds that key and enforces the secure channel:
it refuses every command in the clear except the handshake (unless PD_ENFORCE=0). Without it, it is in install
mode (it takes the default key SCBK-D, or no secure channel), and takes a key from the
control panel (osdp_KEYSET inside the secure channel).

With PD_DELAY set (seconds), the reader starts answering only that long after it has printed
the PTY path: a reader powered up after the control panel. What the panel sent meanwhile
waits in the PTY, as it would in a UART's buffer.
"""
import fcntl
import os
import sys
import time
import tty

from osdp import Capability, CardFormat, Channel, Event, LibFlag, LogLevel, PDCapabilities, PDInfo, PdId, PeripheralDevice, StatusReportType


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
    (Capability.CommunicationSecurity, 1, 1),
    (Capability.ContactStatusMonitoring, 1, 2),
])
inputs = [0, 0]
scbk = os.environ.get("PD_SCBK")
info = PDInfo(int(os.environ.get("PD_ADDRESS", "1")), channel,
              scbk=bytes.fromhex(scbk) if scbk else None,
              flags=[LibFlag.EnforceSecure] if scbk and os.environ.get("PD_ENFORCE", "1") == "1" else [],
              id=PdId(version=1, model=153, vendor_code=0xA00007, serial_number=0x01020304, firmware_version=0x030209))
pd = PeripheralDevice(info, capabilities, log_level=LogLevel.Warning)
keys = []


def on_command(command):
    if command.get("command") == 5:  # osdp_KEYSET
        keys.append(bytes(command["data"]).hex() if "data" in command else repr(command))
    return 0, None


pd.set_command_handler(on_command)
print(os.ttyname(slave), flush=True)
time.sleep(float(os.environ.get("PD_DELAY", "0")))
pd.start()

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
    elif line in ("tamper", "closed"):
        pd.submit_event({"event": Event.Status, "type": StatusReportType.Local,
                         "report": bytes([1 if line == "tamper" else 0, 0])})
        print("ok", flush=True)
    elif line.startswith("input "):
        _, n, state = line.split()
        inputs[int(n)] = 1 if state == "on" else 0
        pd.submit_event({"event": Event.Status, "type": StatusReportType.Input, "report": bytes(inputs)})
        print("ok", flush=True)
    elif line == "key":
        print("key", keys[-1] if keys else (scbk or "none"), flush=True)
    elif line == "plug":
        channel.plugged = True
        print("ok", flush=True)
