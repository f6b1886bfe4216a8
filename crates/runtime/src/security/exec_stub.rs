//! The runtime binary, protected from the container (CVE-2019-5736 class).
//!
//! The container's init is a clone of veil-runtime, so until it execs, its
//! /proc/self/exe is the runtime's binary on the host. A program that makes
//! the init exec "/proc/self/exe" (a `#!/proc/self/exe` script, or a symlink
//! to it) would run the host binary inside the container, and a process of
//! the container could then open it for writing.
//!
//! So the init never execs the user's program directly. It execs a tiny
//! static stub (below, 190 bytes) from a sealed memfd, and the stub execs
//! the program. When the program's exec resolves /proc/self/exe, it finds
//! the sealed stub, which refuses to run unless called with veil's marker.
//! Nothing is copied per call but these 190 bytes, in a memfd the runtime
//! creates (so charged to the runtime, not to the container's memory).
//!
//! The stub is x86-64 only; elsewhere the program is exec'd directly.

use crate::sys::{fs as sysfs, process as sysproc};
use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, OwnedFd};

/// argv[0] the stub insists on: "veil-exe".
pub const MARKER: &str = "veil-exe";

const LOAD: u64 = 0x40_0000;
const CODE_OFFSET: u64 = 64 + 56;

/// The stub's machine code (x86-64):
///
/// ```text
///   mov  rax, [rsp+8]          ; argv[0]
///   mov  rbx, "veil-exe"
///   cmp  [rax], rbx            ; argv[0] must be the marker...
///   jne  fail
///   cmp  byte [rax+8], 0       ; ...exactly
///   jne  fail
///   mov  rcx, [rsp]            ; argc
///   cmp  rcx, 2
///   jle  fail                  ; needs a path and an argv[0]
///   mov  rdi, [rsp+16]         ; path   = argv[1]
///   lea  rsi, [rsp+24]         ; argv   = &argv[2]
///   lea  rdx, [rsp+rcx*8+16]   ; envp   = &argv[argc+1]
///   mov  eax, 59               ; execve
///   syscall
/// fail:
///   mov  edi, 2                ; write(2, message, len)
///   lea  rsi, [rip+message]
///   mov  edx, len
///   mov  eax, 1
///   syscall
///   mov  edi, 127              ; exit_group(127)
///   mov  eax, 231
///   syscall
/// message: "veil: exec failed\n"
/// ```
const CODE: [u8; 70] = [
    0x48, 0x8b, 0x44, 0x24, 0x08, // mov rax, [rsp+8]
    0x48, 0xbb, b'v', b'e', b'i', b'l', b'-', b'e', b'x', b'e', // mov rbx, "veil-exe"
    0x48, 0x39, 0x18, // cmp [rax], rbx
    0x75, 0x26, // jne fail (+38)
    0x80, 0x78, 0x08, 0x00, // cmp byte [rax+8], 0
    0x75, 0x20, // jne fail (+32)
    0x48, 0x8b, 0x0c, 0x24, // mov rcx, [rsp]
    0x48, 0x83, 0xf9, 0x02, // cmp rcx, 2
    0x7e, 0x16, // jle fail (+22)
    0x48, 0x8b, 0x7c, 0x24, 0x10, // mov rdi, [rsp+16]
    0x48, 0x8d, 0x74, 0x24, 0x18, // lea rsi, [rsp+24]
    0x48, 0x8d, 0x54, 0xcc, 0x10, // lea rdx, [rsp+rcx*8+16]
    0xb8, 0x3b, 0x00, 0x00, 0x00, // mov eax, 59
    0x0f, 0x05, // syscall
    // fail (offset 58): the write is spliced in by `image`.
    0xbf, 0x7f, 0x00, 0x00, 0x00, // mov edi, 127
    0xb8, 0xe7, 0x00, 0x00, 0x00, // mov eax, 231
    0x0f, 0x05, // syscall
];

const MESSAGE: &[u8] = b"veil: exec failed\n";

/// The whole ELF image.
pub fn image() -> Vec<u8> {
    // fail: write(2, message, len) before exit_group.
    let mut code = CODE[..58].to_vec();
    let write_len = 5 + 7 + 5 + 5 + 2; // mov edi; lea rsi; mov edx; mov eax; syscall
    let exit = &CODE[58..];
    code.extend_from_slice(&[0xbf, 0x02, 0x00, 0x00, 0x00]); // mov edi, 2
    let rel = (write_len - 5 - 7 + exit.len()) as u32; // from after the lea to the message
    code.extend_from_slice(&[0x48, 0x8d, 0x35]); // lea rsi, [rip+rel32]
    code.extend_from_slice(&rel.to_le_bytes());
    code.push(0xba); // mov edx, len
    code.extend_from_slice(&(MESSAGE.len() as u32).to_le_bytes());
    code.extend_from_slice(&[0xb8, 0x01, 0x00, 0x00, 0x00]); // mov eax, 1
    code.extend_from_slice(&[0x0f, 0x05]); // syscall
    code.extend_from_slice(exit);
    code.extend_from_slice(MESSAGE);

    let size = CODE_OFFSET + code.len() as u64;
    let mut elf = Vec::with_capacity(size as usize);
    // ELF header
    elf.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    elf.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    elf.extend_from_slice(&0x3eu16.to_le_bytes()); // x86-64
    elf.extend_from_slice(&1u32.to_le_bytes()); // version
    elf.extend_from_slice(&(LOAD + CODE_OFFSET).to_le_bytes()); // entry
    elf.extend_from_slice(&64u64.to_le_bytes()); // phoff
    elf.extend_from_slice(&0u64.to_le_bytes()); // shoff
    elf.extend_from_slice(&0u32.to_le_bytes()); // flags
    elf.extend_from_slice(&64u16.to_le_bytes()); // ehsize
    elf.extend_from_slice(&56u16.to_le_bytes()); // phentsize
    elf.extend_from_slice(&1u16.to_le_bytes()); // phnum
    elf.extend_from_slice(&[0; 6]); // shentsize, shnum, shstrndx
                                    // Program header: one R+X PT_LOAD of the whole file.
    elf.extend_from_slice(&1u32.to_le_bytes());
    elf.extend_from_slice(&5u32.to_le_bytes());
    elf.extend_from_slice(&0u64.to_le_bytes());
    elf.extend_from_slice(&LOAD.to_le_bytes());
    elf.extend_from_slice(&LOAD.to_le_bytes());
    elf.extend_from_slice(&size.to_le_bytes());
    elf.extend_from_slice(&size.to_le_bytes());
    elf.extend_from_slice(&0x1000u64.to_le_bytes());
    elf.extend_from_slice(&code);
    elf
}

/// The stub in a sealed memfd, or `None` where there is no stub for this
/// architecture or memfds cannot be executed here.
pub fn create() -> io::Result<Option<OwnedFd>> {
    if !cfg!(target_arch = "x86_64") {
        return Ok(None);
    }
    let fd = sysfs::memfd(c"veil-exec")?;
    sysfs::write_all(fd.as_fd(), &image())?;
    sysfs::seal_all(fd.as_fd())?;
    Ok(Some(fd))
}

/// Execs `path` with `argv` through the stub (or directly without one).
/// Returns only on failure.
pub fn execve(
    stub: Option<&OwnedFd>,
    path: &CString,
    argv: &[CString],
    envp: &[CString],
) -> io::Error {
    let Some(stub) = stub else {
        return sysproc::execve(path, argv, envp);
    };
    let mut args = Vec::with_capacity(argv.len() + 2);
    args.push(CString::new(MARKER).unwrap_or_default());
    args.push(path.clone());
    args.extend_from_slice(argv);
    let e = sysproc::execveat_fd(stub.as_fd(), &args, envp);
    // A seccomp profile (or policy) that forbids execveat or executing a
    // memfd: exec the program itself rather than fail.
    match e.raw_os_error() {
        Some(libc::EPERM | libc::EACCES | libc::ENOSYS) => sysproc::execve(path, argv, envp),
        _ => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_stub(argv0: &str, rest: &[&str]) -> std::process::Output {
        use std::os::unix::process::CommandExt;
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("veil-stub-{}-{n}", std::process::id()));
        std::fs::write(&dir, image()).unwrap();
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let out = std::process::Command::new(&dir)
            .arg0(argv0)
            .args(rest)
            .env("STUB", "env-ok")
            .output()
            .unwrap();
        std::fs::remove_file(&dir).unwrap();
        out
    }

    #[test]
    fn the_stub_execs_its_target_with_the_marker() {
        let out = run_stub(
            MARKER,
            &["/bin/sh", "sh", "-c", "echo $0 $1 $STUB", "zero", "one"],
        );
        assert!(out.status.success(), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "zero one env-ok\n");
    }

    #[test]
    fn the_stub_refuses_anything_else() {
        // As the interpreter of a `#!/proc/self/exe` script: argv[0] is that path.
        let out = run_stub("/proc/self/exe", &["/bin/sh", "sh", "-c", "echo ran"]);
        assert_eq!(out.status.code(), Some(127));
        assert!(out.stdout.is_empty());
        assert_eq!(String::from_utf8_lossy(&out.stderr), "veil: exec failed\n");
        let out = run_stub("veil-exe2", &["/bin/sh", "sh"]);
        assert_eq!(out.status.code(), Some(127));
        let out = run_stub(MARKER, &["/bin/sh"]);
        assert_eq!(out.status.code(), Some(127), "argc too small");
        let out = run_stub(MARKER, &["/no/such/program", "x"]);
        assert_eq!(out.status.code(), Some(127));
    }
}
