//! The serial port (or a PTY) under a bus, and the RS-485 mode of its transceiver.

use std::time::Duration;

use super::Port;

/// How the line driver of an RS-485 transceiver is switched between sending and receiving.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Rs485Mode {
    /// The adapter switches by itself (as USB RS-485 adapters do): the port is left as it is.
    #[default]
    None,
    /// The kernel's RS-485 mode: RTS high while sending (a transceiver's driver enable on RTS).
    Rts,
    /// The kernel's RS-485 mode with RTS low while sending (an inverted driver enable).
    RtsInverted,
}

/// A serial port (or a PTY) under a bus.
pub struct SerialTransport(serialport::TTYPort);

impl std::fmt::Debug for SerialTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SerialTransport")
    }
}

impl SerialTransport {
    pub fn open(path: &str, baud: u32) -> Result<Self, serialport::Error> {
        Self::open_with(path, baud, Rs485Mode::None)
    }

    /// Opens the port and, unless `rs485` is `None`, switches it to the kernel's RS-485 mode;
    /// a port that does not support it is an error saying so.
    pub fn open_with(path: &str, baud: u32, rs485: Rs485Mode) -> Result<Self, serialport::Error> {
        let port = serialport::new(path, baud)
            .timeout(Duration::from_millis(20))
            .open_native()?;
        if rs485 != Rs485Mode::None {
            use std::os::unix::io::AsRawFd;
            set_rs485(port.as_raw_fd(), rs485).map_err(|e| {
                serialport::Error::new(
                    serialport::ErrorKind::Io(e.kind()),
                    format!("{path}: cannot switch to RS-485 mode: {e}"),
                )
            })?;
        }
        Ok(SerialTransport(port))
    }
}

/// Linux `struct serial_rs485` (include/uapi/linux/serial.h).
#[repr(C)]
struct SerialRs485 {
    flags: u32,
    delay_rts_before_send: u32,
    delay_rts_after_send: u32,
    padding: [u32; 5],
}

const SER_RS485_ENABLED: u32 = 1 << 0;
const SER_RS485_RTS_ON_SEND: u32 = 1 << 1;
const SER_RS485_RTS_AFTER_SEND: u32 = 1 << 2;

/// Switches a serial port to the kernel's RS-485 mode (`TIOCSRS485`). The one `unsafe` in
/// Keyway: an ioctl that reads a plain C struct from a pointer valid for the call.
#[allow(unsafe_code)]
fn set_rs485(fd: std::os::unix::io::RawFd, mode: Rs485Mode) -> std::io::Result<()> {
    let rts = match mode {
        Rs485Mode::None => return Ok(()),
        Rs485Mode::Rts => SER_RS485_RTS_ON_SEND,
        Rs485Mode::RtsInverted => SER_RS485_RTS_AFTER_SEND,
    };
    let config = SerialRs485 {
        flags: SER_RS485_ENABLED | rts,
        delay_rts_before_send: 0,
        delay_rts_after_send: 0,
        padding: [0; 5],
    };
    // SAFETY: TIOCSRS485 takes a pointer to a `struct serial_rs485`, which `SerialRs485`
    // mirrors field for field (repr(C), 32 bytes); the kernel only reads it, during the call,
    // while `config` lives. `fd` is the open port's descriptor.
    let rc = unsafe { libc::ioctl(fd, libc::TIOCSRS485, &config as *const SerialRs485) };
    if rc == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

impl Port for SerialTransport {
    fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        std::io::Write::write_all(&mut self.0, bytes)
    }

    fn receive(&mut self, buf: &mut [u8], wait: Duration) -> std::io::Result<usize> {
        use serialport::SerialPort;
        // A zero timeout would make the read non-blocking only on some ports: wait at least
        // a millisecond.
        self.0
            .set_timeout(wait.max(Duration::from_millis(1)))
            .map_err(std::io::Error::from)?;
        match std::io::Read::read(&mut self.0, buf) {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Ok(0),
            Err(e) => Err(e),
        }
    }

    fn discard_input(&mut self) -> std::io::Result<()> {
        use serialport::SerialPort;
        self.0
            .clear(serialport::ClearBuffer::Input)
            .map_err(std::io::Error::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_without_rs485_support_says_so() {
        // A PTY has no RS-485 mode: asking for it is an error naming the port and the mode,
        // never a port silently left in the wrong mode.
        use serialport::SerialPort;
        let (_master, slave) = serialport::TTYPort::pair().expect("a PTY pair");
        let path = slave.name().expect("the PTY's name");
        let error = SerialTransport::open_with(&path, 115_200, Rs485Mode::Rts).unwrap_err();
        assert!(error.to_string().contains("RS-485"), "{error}");
        assert!(error.to_string().contains(&path), "{error}");
        // Without RS-485 mode it opens.
        SerialTransport::open_with(&path, 115_200, Rs485Mode::None).unwrap();
    }
}
