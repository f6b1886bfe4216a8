//! Container logs in Docker's json-file format: one JSON object per line,
//! `{"log":"text\n","stream":"stdout","time":"2024-01-01T00:00:00.000000000Z"}`.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Line {
    pub log: String,
    pub stream: String,
    pub time: String,
}

/// Splits a stream into lines for the log (a partial line waits for more).
#[derive(Default)]
pub struct Writer {
    partial: [Vec<u8>; 2],
}

impl Writer {
    /// Appends complete lines of `data` (stream 0 = stdout, 1 = stderr).
    pub fn write(&mut self, file: &mut impl Write, stream: usize, data: &[u8]) {
        let buf = &mut self.partial[stream];
        buf.extend_from_slice(data);
        while let Some(i) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=i).collect();
            emit(file, stream, &line);
        }
        // A very long line without a newline is cut, as docker does at 16 KiB.
        if buf.len() >= 16384 {
            let line: Vec<u8> = std::mem::take(buf);
            emit(file, stream, &line);
        }
    }

    /// Writes what is left (at exit).
    pub fn flush(&mut self, file: &mut impl Write) {
        for stream in 0..2 {
            let line = std::mem::take(&mut self.partial[stream]);
            if !line.is_empty() {
                emit(file, stream, &line);
            }
        }
    }
}

fn emit(file: &mut impl Write, stream: usize, line: &[u8]) {
    let l = Line {
        log: String::from_utf8_lossy(line).into_owned(),
        stream: if stream == 0 { "stdout" } else { "stderr" }.into(),
        time: humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string(),
    };
    if let Ok(mut s) = serde_json::to_string(&l) {
        s.push('\n');
        let _ = file.write_all(s.as_bytes());
    }
}

/// The lines of a log file (unparsable lines are skipped).
pub fn read(path: &Path) -> Vec<Line> {
    read_from(path, 0).0
}

/// The complete lines from byte `offset` on, and the offset after them
/// (for `logs -f`: a line being written is read next time).
pub fn read_from(path: &Path, offset: u64) -> (Vec<Line>, u64) {
    use std::io::{Read, Seek, SeekFrom};
    let mut data = Vec::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        if f.seek(SeekFrom::Start(offset)).is_ok() {
            let _ = f.read_to_end(&mut data);
        }
    }
    let end = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let lines = String::from_utf8_lossy(&data[..end])
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (lines, offset + end as u64)
}

/// docker's `--tail N`: the last N lines ("all" is everything).
pub fn tail(lines: Vec<Line>, n: Option<usize>) -> Vec<Line> {
    match n {
        Some(n) if n < lines.len() => lines[lines.len() - n..].to_vec(),
        _ => lines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_and_kept_apart_by_stream() {
        let mut w = Writer::default();
        let mut out = Vec::new();
        w.write(&mut out, 0, b"hel");
        w.write(&mut out, 1, b"err\n");
        w.write(&mut out, 0, b"lo\nnext");
        w.flush(&mut out);
        let lines: Vec<Line> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            (lines[0].log.as_str(), lines[0].stream.as_str()),
            ("err\n", "stderr")
        );
        assert_eq!(
            (lines[1].log.as_str(), lines[1].stream.as_str()),
            ("hello\n", "stdout")
        );
        assert_eq!(lines[2].log, "next");
    }
}
