//! Just enough D-Bus to ask systemd for a transient scope: a connection to
//! systemd's private socket (`/run/systemd/private`, root only, EXTERNAL
//! authentication), method calls with the few types systemd's unit
//! properties need, replies (a method return or an error), and signals
//! (systemd sends its signals, `JobRemoved` among them, to every
//! connection on its private socket, without a subscription).
//!
//! The wire format (D-Bus specification, "Message Protocol"): a 12-byte
//! fixed header, an array of header fields `a(yv)` padded to 8, then the
//! body; every value aligned to its own size, little-endian here.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// A value in a method call's body.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Bool(bool),
    U32(u32),
    U64(u64),
    /// `au`
    U32s(Vec<u32>),
    /// `ay`
    Bytes(Vec<u8>),
    /// `a(ss)`: DeviceAllow's (path, access) pairs.
    StrPairs(Vec<(String, String)>),
    /// `a(sv)`: unit properties.
    Props(Vec<(String, Value)>),
    /// `a(sa(sv))`: auxiliary units.
    AuxUnits(Vec<(String, Vec<(String, Value)>)>),
}

impl Value {
    fn signature(&self) -> &'static str {
        match self {
            Value::Str(_) => "s",
            Value::Bool(_) => "b",
            Value::U32(_) => "u",
            Value::U64(_) => "t",
            Value::U32s(_) => "au",
            Value::Bytes(_) => "ay",
            Value::StrPairs(_) => "a(ss)",
            Value::Props(_) => "a(sv)",
            Value::AuxUnits(_) => "a(sa(sv))",
        }
    }
}

/// A message being written, with D-Bus alignment.
#[derive(Default)]
struct Buf(Vec<u8>);

impl Buf {
    fn pad(&mut self, to: usize) {
        let len = align(self.0.len(), to);
        self.0.resize(len, 0);
    }
    fn u32(&mut self, v: u32) {
        self.pad(4);
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.pad(8);
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
        self.0.push(0);
    }
    fn sig(&mut self, s: &str) {
        self.0.push(s.len() as u8);
        self.0.extend_from_slice(s.as_bytes());
        self.0.push(0);
    }
    /// An array: its length is patched in once the elements are written.
    fn array(&mut self, align: usize, items: impl FnOnce(&mut Buf)) {
        self.pad(4);
        let at = self.0.len();
        self.0.extend_from_slice(&[0; 4]);
        self.pad(align);
        let start = self.0.len();
        items(self);
        let len = (self.0.len() - start) as u32;
        self.0[at..at + 4].copy_from_slice(&len.to_le_bytes());
    }
    fn value(&mut self, v: &Value) {
        match v {
            Value::Str(s) => self.str(s),
            Value::Bool(b) => self.u32(u32::from(*b)),
            Value::U32(n) => self.u32(*n),
            Value::U64(n) => self.u64(*n),
            Value::U32s(ns) => self.array(4, |b| ns.iter().for_each(|n| b.u32(*n))),
            Value::Bytes(bs) => self.array(1, |b| b.0.extend_from_slice(bs)),
            Value::StrPairs(ps) => self.array(8, |b| {
                for (x, y) in ps {
                    b.pad(8);
                    b.str(x);
                    b.str(y);
                }
            }),
            Value::Props(ps) => self.props(ps),
            Value::AuxUnits(us) => self.array(8, |b| {
                for (name, ps) in us {
                    b.pad(8);
                    b.str(name);
                    b.props(ps);
                }
            }),
        }
    }
    fn props(&mut self, ps: &[(String, Value)]) {
        self.array(8, |b| {
            for (name, v) in ps {
                b.pad(8);
                b.str(name);
                b.sig(v.signature());
                b.value(v);
            }
        });
    }
}

/// A header field's value.
enum Header<'a> {
    /// `o`
    Path(&'a str),
    /// `s`
    Str(&'a str),
    /// `g`
    Sig(&'a str),
    /// `u` (the reply serial: only replies carry it, and veil sends
    /// none; the tests build replies)
    #[cfg(test)]
    U32(u32),
}

/// A message's bytes: the fixed header (little-endian, `kind`, no flags,
/// version 1), the header fields `a(yv)` (code, value), padding to 8, the
/// body.
fn message(kind: u8, serial: u32, fields: &[(u8, Header<'_>)], body: &[u8]) -> Vec<u8> {
    let mut m = Buf::default();
    m.0.extend_from_slice(&[b'l', kind, 0, 1]);
    m.u32(body.len() as u32);
    m.u32(serial);
    m.array(8, |b| {
        for (code, value) in fields {
            b.pad(8);
            b.0.push(*code);
            match value {
                Header::Path(v) => {
                    b.sig("o");
                    b.str(v)
                }
                Header::Str(v) => {
                    b.sig("s");
                    b.str(v)
                }
                Header::Sig(v) => {
                    b.sig("g");
                    b.sig(v)
                }
                #[cfg(test)]
                Header::U32(v) => {
                    b.sig("u");
                    b.u32(*v)
                }
            }
        }
    });
    m.pad(8);
    m.0.extend_from_slice(body);
    m.0
}

/// A method call's bytes.
fn method_call(
    serial: u32,
    dest: &str,
    path: &str,
    iface: &str,
    member: &str,
    args: &[Value],
) -> Vec<u8> {
    let mut body = Buf::default();
    for a in args {
        body.value(a);
    }
    let signature: String = args.iter().map(Value::signature).collect();
    let mut fields = vec![
        (1, Header::Path(path)),
        (2, Header::Str(iface)),
        (3, Header::Str(member)),
        (6, Header::Str(dest)),
    ];
    if !signature.is_empty() {
        fields.push((8, Header::Sig(&signature)));
    }
    message(1, serial, &fields, &body.0)
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("D-Bus: {msg}"))
}

/// A message read: a method return, an error with its name and message,
/// or a signal.
#[derive(Debug)]
pub struct Reply {
    pub reply_serial: u32,
    pub error: Option<(String, String)>,
    /// The first string or object path of the body, if any.
    pub first: Option<String>,
    /// The member (a signal's name).
    pub member: Option<String>,
    /// The body's leading values of basic types (`u`, `t`, `b`, `s`, `o`,
    /// `g`), as text; the rest of the body is not read.
    pub args: Vec<String>,
}

fn u32_at(b: &[u8], at: usize) -> io::Result<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| bad("short message"))
}

fn align(at: usize, to: usize) -> usize {
    at.div_ceil(to) * to
}

/// Parses a message: header fields, and the first string of the body.
fn parse(msg: &[u8]) -> io::Result<(u8, Reply)> {
    if msg.first() != Some(&b'l') {
        return Err(bad("only little-endian messages are read"));
    }
    let kind = *msg.get(1).ok_or_else(|| bad("short message"))?;
    let fields_len = u32_at(msg, 12)? as usize;
    let mut at = 16;
    let end = at + fields_len;
    let mut reply = Reply {
        reply_serial: 0,
        error: None,
        first: None,
        member: None,
        args: Vec::new(),
    };
    let mut error_name = None;
    let mut body_sig = String::new();
    while at < end {
        at = align(at, 8);
        let code = *msg.get(at).ok_or_else(|| bad("short header"))?;
        let sig_len = *msg.get(at + 1).ok_or_else(|| bad("short header"))? as usize;
        let sig = msg
            .get(at + 2..at + 2 + sig_len)
            .ok_or_else(|| bad("short header"))?;
        at += 3 + sig_len;
        match sig {
            b"u" => {
                at = align(at, 4);
                let v = u32_at(msg, at)?;
                at += 4;
                if code == 5 {
                    reply.reply_serial = v;
                }
            }
            b"s" | b"o" => {
                at = align(at, 4);
                let len = u32_at(msg, at)? as usize;
                let s = msg
                    .get(at + 4..at + 4 + len)
                    .ok_or_else(|| bad("short string"))?;
                if code == 4 {
                    error_name = Some(String::from_utf8_lossy(s).into_owned());
                }
                if code == 3 {
                    reply.member = Some(String::from_utf8_lossy(s).into_owned());
                }
                at += 5 + len;
            }
            b"g" => {
                let len = *msg.get(at).ok_or_else(|| bad("short signature"))? as usize;
                let s = msg
                    .get(at + 1..at + 1 + len)
                    .ok_or_else(|| bad("short signature"))?;
                if code == 8 {
                    body_sig = String::from_utf8_lossy(s).into_owned();
                }
                at += 2 + len;
            }
            _ => return Err(bad("unexpected header field type")),
        }
    }
    let body = align(end, 8);
    if body_sig.starts_with('s') || body_sig.starts_with('o') {
        let len = u32_at(msg, body)? as usize;
        let s = msg
            .get(body + 4..body + 4 + len)
            .ok_or_else(|| bad("short body"))?;
        reply.first = Some(String::from_utf8_lossy(s).into_owned());
    }
    let mut at = body;
    for t in body_sig.bytes() {
        match t {
            b'u' | b'b' => {
                at = align(at, 4);
                reply.args.push(u32_at(msg, at)?.to_string());
                at += 4;
            }
            b't' => {
                at = align(at, 8);
                let lo = u64::from(u32_at(msg, at)?);
                let hi = u64::from(u32_at(msg, at + 4)?);
                reply.args.push((hi << 32 | lo).to_string());
                at += 8;
            }
            b's' | b'o' => {
                at = align(at, 4);
                let len = u32_at(msg, at)? as usize;
                let s = msg
                    .get(at + 4..at + 4 + len)
                    .ok_or_else(|| bad("short body"))?;
                reply.args.push(String::from_utf8_lossy(s).into_owned());
                at += 5 + len;
            }
            b'g' => {
                let len = *msg.get(at).ok_or_else(|| bad("short body"))? as usize;
                let s = msg
                    .get(at + 1..at + 1 + len)
                    .ok_or_else(|| bad("short body"))?;
                reply.args.push(String::from_utf8_lossy(s).into_owned());
                at += 2 + len;
            }
            _ => break,
        }
    }
    if let Some(name) = error_name {
        reply.error = Some((name, reply.first.clone().unwrap_or_default()));
    }
    Ok((kind, reply))
}

pub struct Connection {
    stream: UnixStream,
    serial: u32,
    /// Signals read while waiting for a reply, for `wait_signal`.
    signals: VecDeque<Reply>,
}

/// systemd's private socket: no bus daemon needed, root only.
pub const SYSTEMD_PRIVATE: &str = "/run/systemd/private";

impl Connection {
    /// Connects and authenticates as our effective uid.
    pub fn open(path: &Path) -> io::Result<Connection> {
        let mut stream = UnixStream::connect(path)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let uid = crate::sys::process::geteuid().to_string();
        let hex: String = uid.bytes().map(|b| format!("{b:02x}")).collect();
        stream.write_all(format!("\0AUTH EXTERNAL {hex}\r\n").as_bytes())?;
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while !line.ends_with(b"\r\n") {
            if stream.read(&mut byte)? == 0 || line.len() > 512 {
                return Err(bad("authentication: connection closed"));
            }
            line.push(byte[0]);
        }
        if !line.starts_with(b"OK ") {
            return Err(bad(&format!(
                "authentication refused: {}",
                String::from_utf8_lossy(&line).trim()
            )));
        }
        stream.write_all(b"BEGIN\r\n")?;
        Ok(Connection {
            stream,
            serial: 0,
            signals: VecDeque::new(),
        })
    }

    /// Reads one message (waiting at most the read timeout for it).
    fn read_message(&mut self) -> io::Result<(u8, Reply)> {
        let mut fixed = [0u8; 16];
        self.stream.read_exact(&mut fixed)?;
        let body_len = u32_at(&fixed, 4)? as usize;
        let fields_len = u32_at(&fixed, 12)? as usize;
        let total = align(16 + fields_len, 8) + body_len;
        if total > 1 << 20 {
            return Err(bad("message too large"));
        }
        let mut msg = fixed.to_vec();
        msg.resize(total, 0);
        self.stream.read_exact(&mut msg[16..])?;
        parse(&msg)
    }

    /// Calls a method and waits for its reply (signals read meanwhile are
    /// kept for `wait_signal`, other messages skipped).
    pub fn call(
        &mut self,
        dest: &str,
        path: &str,
        iface: &str,
        member: &str,
        args: &[Value],
    ) -> io::Result<Reply> {
        self.serial += 1;
        let serial = self.serial;
        self.stream
            .write_all(&method_call(serial, dest, path, iface, member, args))?;
        loop {
            let (kind, reply) = self.read_message()?;
            // 2: method return, 3: error, 4: signal.
            if matches!(kind, 2 | 3) && reply.reply_serial == serial {
                return Ok(reply);
            }
            if kind == 4 {
                if self.signals.len() >= 1024 {
                    self.signals.pop_front();
                }
                self.signals.push_back(reply);
            }
        }
    }

    /// Waits until `deadline` for the signal `member` whose arguments
    /// `matches` accepts (one read already is taken first); returns its
    /// arguments.
    pub fn wait_signal(
        &mut self,
        member: &str,
        deadline: Instant,
        mut matches: impl FnMut(&[String]) -> bool,
    ) -> io::Result<Vec<String>> {
        let mut wanted = |r: &Reply| r.member.as_deref() == Some(member) && matches(&r.args);
        if let Some(i) = self.signals.iter().position(&mut wanted) {
            return Ok(self.signals.remove(i).map(|r| r.args).unwrap_or_default());
        }
        let late = || {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("D-Bus: no {member} signal in time"),
            )
        };
        let result = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break Err(late());
            }
            self.stream.set_read_timeout(Some(left))?;
            match self.read_message() {
                Ok((4, r)) if wanted(&r) => break Ok(r.args),
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    break Err(late())
                }
                Err(e) => break Err(e),
            }
        };
        self.stream
            .set_read_timeout(Some(Duration::from_secs(10)))?;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_method_call_is_laid_out_as_the_specification_says() {
        let m = method_call(
            7,
            "org.freedesktop.systemd1",
            "/org/freedesktop/systemd1",
            "org.freedesktop.systemd1.Manager",
            "StopUnit",
            &[Value::Str("a.scope".into()), Value::Str("replace".into())],
        );
        assert_eq!(&m[..4], b"l\x01\x00\x01");
        assert_eq!(u32_at(&m, 8).unwrap(), 7);
        let fields = u32_at(&m, 12).unwrap() as usize;
        let body = align(16 + fields, 8);
        assert_eq!(u32_at(&m, 4).unwrap() as usize, m.len() - body);
        // The body: "a.scope" then "replace", each length-prefixed and NUL-ended.
        assert_eq!(u32_at(&m, body).unwrap(), 7);
        assert_eq!(&m[body + 4..body + 12], b"a.scope\0");
        assert_eq!(u32_at(&m, body + 12).unwrap(), 7);
    }

    #[test]
    fn properties_align_structs_to_8() {
        let mut b = Buf::default();
        b.props(&[
            ("PIDs".into(), Value::U32s(vec![42])),
            ("Delegate".into(), Value::Bool(true)),
        ]);
        // length, padding to 8, then "PIDs" at 8.
        assert_eq!(u32_at(&b.0, 8).unwrap(), 4);
        assert_eq!(&b.0[12..17], b"PIDs\0");
        let len = u32_at(&b.0, 0).unwrap() as usize;
        assert_eq!(len, b.0.len() - 8);
    }

    #[test]
    fn string_pairs_are_structs_aligned_to_8() {
        let mut b = Buf::default();
        b.value(&Value::StrPairs(vec![
            ("char-*".into(), "m".into()),
            ("/dev/char/1:3".into(), "rwm".into()),
        ]));
        // length, padding, ("char-*", "m") at 8, then the next struct at 8k.
        assert_eq!(u32_at(&b.0, 8).unwrap(), 6);
        assert_eq!(&b.0[12..19], b"char-*\0");
        assert_eq!(u32_at(&b.0, 20).unwrap(), 1);
        assert_eq!(&b.0[24..26], b"m\0");
        assert_eq!(u32_at(&b.0, 32).unwrap(), 13);
        assert_eq!(u32_at(&b.0, 0).unwrap() as usize, b.0.len() - 8);
    }

    #[test]
    fn replies_and_errors_are_read() {
        // An error reply, as systemd sends it.
        let mut body = Buf::default();
        body.str("Unit x.scope already exists.");
        let m = message(
            3,
            9,
            &[
                (4, Header::Str("org.freedesktop.systemd1.UnitExists")),
                (5, Header::U32(3)),
                (8, Header::Sig("s")),
            ],
            &body.0,
        );
        let (kind, r) = parse(&m).unwrap();
        assert_eq!((kind, r.reply_serial), (3, 3));
        let (name, msg) = r.error.unwrap();
        assert_eq!(name, "org.freedesktop.systemd1.UnitExists");
        assert_eq!(msg, "Unit x.scope already exists.");
        assert!(parse(&m[..20]).is_err());
    }

    #[test]
    fn signals_are_read_with_their_arguments() {
        // JobRemoved(u id, o job, s unit, s result), as systemd sends it.
        let mut body = Buf::default();
        body.u32(17);
        body.str("/org/freedesktop/systemd1/job/17");
        body.str("veil-x.scope");
        body.str("done");
        let m = message(
            4,
            30,
            &[
                (1, Header::Path("/org/freedesktop/systemd1")),
                (3, Header::Str("JobRemoved")),
                (8, Header::Sig("uoss")),
            ],
            &body.0,
        );
        let (kind, r) = parse(&m).unwrap();
        assert_eq!(kind, 4);
        assert_eq!(r.member.as_deref(), Some("JobRemoved"));
        assert_eq!(
            r.args,
            [
                "17",
                "/org/freedesktop/systemd1/job/17",
                "veil-x.scope",
                "done"
            ]
        );
        assert!(r.error.is_none());
    }

    #[test]
    fn byte_arrays_are_not_padded() {
        let mut b = Buf::default();
        b.value(&Value::Bytes(vec![0b10, 0b1]));
        assert_eq!(b.0, [2, 0, 0, 0, 0b10, 0b1]);
    }
}
