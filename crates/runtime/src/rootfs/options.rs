//! Mount options of `mounts[].options`: the table of known names (which
//! `features` reports) and their parse into mount attributes.

use crate::sys::mount::{
    MountAttr, MOUNT_ATTR_NOATIME, MOUNT_ATTR_NODEV, MOUNT_ATTR_NODIRATIME, MOUNT_ATTR_NOEXEC,
    MOUNT_ATTR_NOSUID, MOUNT_ATTR_NOSYMFOLLOW, MOUNT_ATTR_RDONLY, MOUNT_ATTR_RELATIME,
    MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME,
};

/// What one option does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Sets and clears mount attributes, on the top mount or (`r*`) on every
    /// mount of the tree.
    Attr { set: u64, clr: u64, recursive: bool },
    /// Mount propagation (`MS_SHARED`..., with `MS_REC` for `r*`).
    Propagation(libc::c_ulong),
    /// `bind` or `rbind`.
    Bind { recursive: bool },
    /// A superblock flag passed to the file system (`sync`, `lazytime`...).
    Superblock(&'static str),
    /// Accepted and without effect (`defaults`, `remount`, the `no` form of
    /// a superblock flag that is off by default).
    Nothing,
    /// An id-mapped mount (`idmap`, `ridmap`).
    Idmap { recursive: bool },
    /// `tmpcopyup`: a new tmpfs gets a copy of the directory it covers.
    TmpCopyUp,
}

const fn attr(set: u64, clr: u64) -> Effect {
    Effect::Attr {
        set,
        clr,
        recursive: false,
    }
}
const fn rattr(set: u64, clr: u64) -> Effect {
    Effect::Attr {
        set,
        clr,
        recursive: true,
    }
}

/// Every option name veil understands. Anything else is passed to the file
/// system as data (`mode=755`, `size=64m`...).
pub const TABLE: &[(&str, Effect)] = &[
    ("async", Effect::Nothing),
    ("atime", attr(MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME)),
    ("bind", Effect::Bind { recursive: false }),
    ("defaults", Effect::Nothing),
    ("dev", attr(0, MOUNT_ATTR_NODEV)),
    ("diratime", attr(0, MOUNT_ATTR_NODIRATIME)),
    ("dirsync", Effect::Superblock("dirsync")),
    ("exec", attr(0, MOUNT_ATTR_NOEXEC)),
    ("idmap", Effect::Idmap { recursive: false }),
    ("iversion", Effect::Superblock("iversion")),
    ("lazytime", Effect::Superblock("lazytime")),
    ("loud", Effect::Nothing),
    ("mand", Effect::Superblock("mand")),
    ("noatime", attr(MOUNT_ATTR_NOATIME, MOUNT_ATTR__ATIME)),
    ("nodev", attr(MOUNT_ATTR_NODEV, 0)),
    ("nodiratime", attr(MOUNT_ATTR_NODIRATIME, 0)),
    ("noexec", attr(MOUNT_ATTR_NOEXEC, 0)),
    ("noiversion", Effect::Nothing),
    ("nolazytime", Effect::Nothing),
    ("nomand", Effect::Nothing),
    (
        "norelatime",
        attr(MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME),
    ),
    (
        "nostrictatime",
        attr(MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME),
    ),
    ("nosuid", attr(MOUNT_ATTR_NOSUID, 0)),
    ("nosymfollow", attr(MOUNT_ATTR_NOSYMFOLLOW, 0)),
    ("private", Effect::Propagation(libc::MS_PRIVATE)),
    ("ratime", rattr(MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME)),
    ("rbind", Effect::Bind { recursive: true }),
    ("rdev", rattr(0, MOUNT_ATTR_NODEV)),
    ("rdiratime", rattr(0, MOUNT_ATTR_NODIRATIME)),
    ("relatime", attr(MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME)),
    ("remount", Effect::Nothing),
    ("rexec", rattr(0, MOUNT_ATTR_NOEXEC)),
    ("ridmap", Effect::Idmap { recursive: true }),
    ("rnoatime", rattr(MOUNT_ATTR_NOATIME, MOUNT_ATTR__ATIME)),
    ("rnodev", rattr(MOUNT_ATTR_NODEV, 0)),
    ("rnodiratime", rattr(MOUNT_ATTR_NODIRATIME, 0)),
    ("rnoexec", rattr(MOUNT_ATTR_NOEXEC, 0)),
    (
        "rnorelatime",
        rattr(MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME),
    ),
    (
        "rnostrictatime",
        rattr(MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME),
    ),
    ("rnosuid", rattr(MOUNT_ATTR_NOSUID, 0)),
    ("rnosymfollow", rattr(MOUNT_ATTR_NOSYMFOLLOW, 0)),
    ("ro", attr(MOUNT_ATTR_RDONLY, 0)),
    (
        "rprivate",
        Effect::Propagation(libc::MS_PRIVATE | libc::MS_REC),
    ),
    ("rrelatime", rattr(MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME)),
    ("rro", rattr(MOUNT_ATTR_RDONLY, 0)),
    ("rrw", rattr(0, MOUNT_ATTR_RDONLY)),
    (
        "rshared",
        Effect::Propagation(libc::MS_SHARED | libc::MS_REC),
    ),
    ("rslave", Effect::Propagation(libc::MS_SLAVE | libc::MS_REC)),
    (
        "rstrictatime",
        rattr(MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME),
    ),
    ("rsuid", rattr(0, MOUNT_ATTR_NOSUID)),
    ("rsymfollow", rattr(0, MOUNT_ATTR_NOSYMFOLLOW)),
    (
        "runbindable",
        Effect::Propagation(libc::MS_UNBINDABLE | libc::MS_REC),
    ),
    ("rw", attr(0, MOUNT_ATTR_RDONLY)),
    ("shared", Effect::Propagation(libc::MS_SHARED)),
    ("silent", Effect::Superblock("silent")),
    ("slave", Effect::Propagation(libc::MS_SLAVE)),
    (
        "strictatime",
        attr(MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME),
    ),
    ("suid", attr(0, MOUNT_ATTR_NOSUID)),
    ("symfollow", attr(0, MOUNT_ATTR_NOSYMFOLLOW)),
    ("sync", Effect::Superblock("sync")),
    ("tmpcopyup", Effect::TmpCopyUp),
    ("unbindable", Effect::Propagation(libc::MS_UNBINDABLE)),
];

pub fn lookup(name: &str) -> Option<Effect> {
    TABLE
        .binary_search_by(|(n, _)| n.cmp(&name))
        .ok()
        .map(|i| TABLE[i].1)
}

/// The parsed options of one mount.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    pub bind: Option<bool>,
    /// Attributes for the top mount.
    pub attr: MountAttr,
    /// Attributes for every mount of the tree.
    pub rec_attr: MountAttr,
    /// Propagation flags, applied in order after the mount is attached.
    pub propagation: Vec<libc::c_ulong>,
    pub superblock: Vec<&'static str>,
    pub idmap: Option<bool>,
    pub tmpcopyup: bool,
    /// File-system data: `key` or `key=value`.
    pub data: Vec<(String, Option<String>)>,
}

fn merge(a: &mut MountAttr, set: u64, clr: u64) {
    // A later option wins over an earlier one: "ro,rw" is rw.
    a.attr_set &= !clr;
    a.attr_set &= !set;
    a.attr_clr &= !set;
    a.attr_set |= set;
    a.attr_clr |= clr;
    if clr & MOUNT_ATTR__ATIME != 0 {
        a.attr_clr |= MOUNT_ATTR__ATIME;
    }
}

pub fn parse(options: &[String]) -> Parsed {
    let mut p = Parsed::default();
    for o in options {
        match lookup(o) {
            Some(Effect::Attr {
                set,
                clr,
                recursive: false,
            }) => merge(&mut p.attr, set, clr),
            Some(Effect::Attr {
                set,
                clr,
                recursive: true,
            }) => merge(&mut p.rec_attr, set, clr),
            Some(Effect::Propagation(f)) => p.propagation.push(f),
            Some(Effect::Bind { recursive }) => p.bind = Some(recursive || p.bind == Some(true)),
            Some(Effect::Superblock(f)) => p.superblock.push(f),
            Some(Effect::Idmap { recursive }) => p.idmap = Some(recursive),
            Some(Effect::Nothing) => {}
            Some(Effect::TmpCopyUp) => p.tmpcopyup = true,
            None => match o.split_once('=') {
                Some((k, v)) => p.data.push((k.to_string(), Some(v.to_string()))),
                None => p.data.push((o.clone(), None)),
            },
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_for_binary_search() {
        assert!(TABLE.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn attributes_and_data_are_split() {
        let opts: Vec<String> = ["nosuid", "ro", "mode=755", "newinstance", "rbind", "rslave"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let p = parse(&opts);
        assert_eq!(p.attr.attr_set, MOUNT_ATTR_NOSUID | MOUNT_ATTR_RDONLY);
        assert_eq!(p.bind, Some(true));
        assert_eq!(p.propagation, vec![libc::MS_SLAVE | libc::MS_REC]);
        assert_eq!(
            p.data,
            vec![
                ("mode".into(), Some("755".into())),
                ("newinstance".into(), None)
            ]
        );
    }

    #[test]
    fn later_option_wins() {
        let p = parse(&["ro".into(), "rw".into()]);
        assert_eq!(p.attr.attr_set & MOUNT_ATTR_RDONLY, 0);
        assert_ne!(p.attr.attr_clr & MOUNT_ATTR_RDONLY, 0);
        let p = parse(&["noatime".into(), "strictatime".into()]);
        assert_eq!(p.attr.attr_set & MOUNT_ATTR__ATIME, MOUNT_ATTR_STRICTATIME);
    }
}
