//! The client's address as text, written once per request without `core::fmt` for IPv4 (the
//! formatting machinery cost ~1 500 instructions per request on procman's path, measured with
//! callgrind), used by the access line (`ip:port`) and the span (`client.address` = the IP).

use std::net::{IpAddr, SocketAddr};

/// `ip:port` in a fixed buffer (the longest IPv6 socket address, `[` 39 `%` 10 `]:` 5, is 58
/// bytes).
#[derive(Clone, Copy)]
pub(super) struct AddrText {
    buf: [u8; 64],
    len: u8,
    /// Where the IP ends (before `:port`; IPv6 inside its brackets).
    ip: (u8, u8),
    port: u16,
}

impl AddrText {
    pub(super) fn new(addr: SocketAddr) -> Self {
        let mut t = AddrText {
            buf: [0; 64],
            len: 0,
            ip: (0, 0),
            port: addr.port(),
        };
        match addr.ip() {
            IpAddr::V4(v4) => {
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        t.push(b'.');
                    }
                    t.push_int(u32::from(octet));
                }
                t.ip = (0, t.len);
            }
            IpAddr::V6(v6) => {
                t.push(b'[');
                let start = t.len;
                let mut cursor = std::io::Cursor::new(&mut t.buf[start as usize..63]);
                let _ = std::io::Write::write_fmt(&mut cursor, format_args!("{v6}"));
                t.len = start + cursor.position() as u8;
                if let SocketAddr::V6(a) = addr {
                    if a.scope_id() != 0 {
                        t.push(b'%');
                        t.push_int(a.scope_id());
                    }
                }
                t.ip = (start, t.len);
                t.push(b']');
            }
        }
        t.push(b':');
        t.push_int(u32::from(addr.port()));
        t
    }

    fn push(&mut self, b: u8) {
        if (self.len as usize) < self.buf.len() {
            self.buf[self.len as usize] = b;
            self.len += 1;
        }
    }

    fn push_int(&mut self, v: u32) {
        let mut b = itoa::Buffer::new();
        for &d in b.format(v).as_bytes() {
            self.push(d);
        }
    }

    /// `ip:port` (`[ip]:port` for IPv6), as `SocketAddr`'s `Display` writes it.
    pub(super) fn as_str(&self) -> &str {
        // ASCII digits, dots, colons, brackets and hex (and `%scope` from `Display`): UTF-8.
        std::str::from_utf8(&self.buf[..self.len as usize]).unwrap_or_default()
    }

    /// The port (`client.port`).
    pub(super) fn port(&self) -> u16 {
        self.port
    }

    /// The IP alone (with an IPv6 scope id), without brackets or port (`client.address`).
    pub(super) fn ip(&self) -> &str {
        std::str::from_utf8(&self.buf[self.ip.0 as usize..self.ip.1 as usize]).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::AddrText;
    use std::net::SocketAddr;

    #[test]
    fn addresses_read_as_socket_addr_writes_them() {
        for text in [
            "127.0.0.1:8080",
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "10.1.20.255:54321",
            "[::1]:443",
            "[2001:db8::8a2e:370:7334]:65535",
            "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
            "[::ffff:192.0.2.1]:80",
            "[fe80::1%4294967295]:65535",
        ] {
            let addr: SocketAddr = text.parse().unwrap();
            let t = AddrText::new(addr);
            assert_eq!(t.as_str(), addr.to_string());
            let ip = match addr {
                SocketAddr::V6(a) if a.scope_id() != 0 => format!("{}%{}", a.ip(), a.scope_id()),
                _ => addr.ip().to_string(),
            };
            assert_eq!(t.ip(), ip);
            assert_eq!(t.port(), addr.port());
        }
    }
}
