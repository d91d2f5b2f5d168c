//! Linux capabilities, described: which capability unlocks what for forensics, their names,
//! and the `security.capability` file attribute format (`struct vfs_cap_data`). Pure, so the
//! service generator and tests use it on any platform; the system calls are in
//! [`super::linux`].

use std::fmt;

/// Bypass read/search permission checks: other users' `/proc/P/io`, `stack`, `syscall`, `auxv`
/// (mode 0400) and `fd/` (mode 0500).
pub const CAP_DAC_READ_SEARCH: u8 = 2;
/// Pass the ptrace access check: `/proc/P/io`, `maps`, `wchan`, `stack`, `fd/`; attach for eu-stack.
pub const CAP_SYS_PTRACE: u8 = 19;
/// Reading kernel stacks (`/proc/P/task/T/stack`) additionally requires CAP_SYS_ADMIN.
pub const CAP_SYS_ADMIN: u8 = 21;
/// Open `/dev/kmsg` while `kernel.dmesg_restrict = 1`.
pub const CAP_SYSLOG: u8 = 34;
/// Sampled profiles with kernel frames and off-CPU samples (`perf_event_open` past
/// `kernel.perf_event_paranoid`).
pub const CAP_PERFMON: u8 = 38;

/// Every capability the daemon's forensics can use, with what it unlocks (shown to users).
pub const FORENSICS: &[(u8, &str)] = &[
    (
        CAP_DAC_READ_SEARCH,
        "open other users' /proc/P/io, task/T/stack, syscall and fd/ (mode 0400/0500 files)",
    ),
    (
        CAP_SYS_PTRACE,
        "pass the ptrace access check on those files and /proc/P/maps; lets eu-stack attach, \
         and perf_event_open profile other users' processes (their files read via /proc/P/root)",
    ),
    (
        CAP_SYS_ADMIN,
        "read kernel stacks (/proc/P/task/T/stack), which the kernel reserves to CAP_SYS_ADMIN, \
         and /proc/P/map_files (deleted or other-namespace files to unwind and symbolize)",
    ),
    (
        CAP_SYSLOG,
        "read the kernel log (/dev/kmsg) while kernel.dmesg_restrict = 1, and kernel symbol \
         addresses (/proc/kallsyms) for kernel frames",
    ),
    (
        CAP_PERFMON,
        "sampled profiles with kernel frames and off-CPU samples (perf_event_open past \
         kernel.perf_event_paranoid); without it, user frames of your own processes only",
    ),
];

/// `CAP_SYS_PTRACE` for `cap_sys_ptrace`: the spelling of systemd units and man pages.
pub fn upper_name(cap: u8) -> String {
    name(cap).to_ascii_uppercase()
}

/// The forensics capabilities as a systemd `CapabilityBoundingSet=` value.
pub fn bounding_set_value() -> String {
    FORENSICS
        .iter()
        .map(|(c, _)| upper_name(*c))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One line per forensics capability: `CAP_X: what it unlocks`.
pub fn explained() -> Vec<String> {
    FORENSICS
        .iter()
        .map(|(c, what)| format!("{}: {what}", upper_name(*c)))
        .collect()
}

/// What `eu-stack` needs to read another user's process: attach, and open its `auxv` and maps.
pub const EU_STACK: CapSet = CapSet::of(&[CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH]);

/// Capability names by number (`capability.h`), for capabilities 0 to 40.
const NAMES: [&str; 41] = [
    "cap_chown",
    "cap_dac_override",
    "cap_dac_read_search",
    "cap_fowner",
    "cap_fsetid",
    "cap_kill",
    "cap_setgid",
    "cap_setuid",
    "cap_setpcap",
    "cap_linux_immutable",
    "cap_net_bind_service",
    "cap_net_broadcast",
    "cap_net_admin",
    "cap_net_raw",
    "cap_ipc_lock",
    "cap_ipc_owner",
    "cap_sys_module",
    "cap_sys_rawio",
    "cap_sys_chroot",
    "cap_sys_ptrace",
    "cap_sys_pacct",
    "cap_sys_admin",
    "cap_sys_boot",
    "cap_sys_nice",
    "cap_sys_resource",
    "cap_sys_time",
    "cap_sys_tty_config",
    "cap_mknod",
    "cap_lease",
    "cap_audit_write",
    "cap_audit_control",
    "cap_setfcap",
    "cap_mac_override",
    "cap_mac_admin",
    "cap_syslog",
    "cap_wake_alarm",
    "cap_block_suspend",
    "cap_audit_read",
    "cap_perfmon",
    "cap_bpf",
    "cap_checkpoint_restore",
];

/// The `cap_…` name of a capability number (`cap_41` for numbers this build does not know).
pub fn name(cap: u8) -> String {
    NAMES
        .get(usize::from(cap))
        .map_or_else(|| format!("cap_{cap}"), |n| (*n).to_string())
}

/// A set of capabilities: bit `n` is capability `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CapSet(pub u64);

impl CapSet {
    /// The set of the listed capabilities.
    pub const fn of(caps: &[u8]) -> CapSet {
        let mut bits = 0u64;
        let mut i = 0;
        while i < caps.len() {
            bits |= 1 << caps[i];
            i += 1;
        }
        CapSet(bits)
    }

    /// Every capability forensics can use.
    pub fn forensics() -> CapSet {
        CapSet(FORENSICS.iter().fold(0, |b, (c, _)| b | 1 << c))
    }

    pub fn contains(self, cap: u8) -> bool {
        cap < 64 && self.0 & (1 << cap) != 0
    }

    pub fn contains_all(self, other: CapSet) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn intersect(self, other: CapSet) -> CapSet {
        CapSet(self.0 & other.0)
    }

    pub fn minus(self, other: CapSet) -> CapSet {
        CapSet(self.0 & !other.0)
    }

    /// The capability numbers in the set, lowest first (no allocation: usable after `fork`).
    pub fn iter(self) -> impl Iterator<Item = u8> {
        (0u8..64).filter(move |&c| self.contains(c))
    }

    /// The two 32-bit words (low, high) the kernel interfaces use.
    pub fn words(self) -> [u32; 2] {
        [self.0 as u32, (self.0 >> 32) as u32]
    }

    pub fn from_words(low: u32, high: u32) -> CapSet {
        CapSet(u64::from(low) | u64::from(high) << 32)
    }
}

/// `none`, a list of names, or `all except …` for nearly full sets (root's).
impl fmt::Display for CapSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let known = CapSet((1u64 << NAMES.len()) - 1);
        let names = |s: CapSet| s.iter().map(name).collect::<Vec<_>>().join(",");
        if self.is_empty() {
            f.write_str("none")
        } else if self.contains_all(known) {
            f.write_str("all")
        } else if self.intersect(known).iter().count() > NAMES.len() / 2 {
            write!(f, "all except {}", names(known.minus(*self)))
        } else {
            f.write_str(&names(*self))
        }
    }
}

/// Revision masks and flags of `struct vfs_cap_data` (`linux/capability.h`).
const VFS_CAP_REVISION_MASK: u32 = 0xFF00_0000;
const VFS_CAP_REVISION_1: u32 = 0x0100_0000;
const VFS_CAP_REVISION_2: u32 = 0x0200_0000;
const VFS_CAP_REVISION_3: u32 = 0x0300_0000;
const VFS_CAP_FLAGS_EFFECTIVE: u32 = 0x0000_0001;

/// The name of the extended attribute holding file capabilities.
pub const XATTR_NAME: &str = "security.capability";

/// The capabilities stored on an executable file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileCaps {
    pub permitted: CapSet,
    pub inheritable: CapSet,
    /// Raised into the effective set at `exec` (the `e` of `=ep`).
    pub effective: bool,
    /// Revision 3 attributes are bound to the root uid of a user namespace.
    pub namespace_root: Option<u32>,
}

impl FileCaps {
    /// `cap_a,cap_b=ep` in the notation of `getcap`.
    pub fn describe(&self) -> String {
        let mut flags = String::new();
        if self.effective {
            flags.push('e');
        }
        if !self.inheritable.is_empty() {
            flags.push('i');
        }
        flags.push('p');
        let caps = CapSet(self.permitted.0 | self.inheritable.0);
        let mut text = format!(
            "{}={flags}",
            caps.iter().map(name).collect::<Vec<_>>().join(",")
        );
        if let Some(uid) = self.namespace_root {
            text.push_str(&format!(" (user namespace root uid {uid})"));
        }
        text
    }
}

/// A `security.capability` value this build cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("file capability attribute has {0} bytes; expected 12, 20 or 24")]
    Length(usize),
    #[error("file capability attribute has unknown revision {0:#x}")]
    Revision(u32),
}

/// Encodes a revision-2 attribute (the kernel converts it to revision 3 by itself when it is
/// written from inside a user namespace).
pub fn encode(permitted: CapSet, effective: bool) -> [u8; 20] {
    let magic = VFS_CAP_REVISION_2
        | if effective {
            VFS_CAP_FLAGS_EFFECTIVE
        } else {
            0
        };
    let [p0, p1] = permitted.words();
    let mut out = [0u8; 20];
    for (i, word) in [magic, p0, 0, p1, 0].into_iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&word.to_le_bytes());
    }
    out
}

/// Decodes a `security.capability` value of revision 1, 2 or 3.
pub fn decode(bytes: &[u8]) -> Result<FileCaps, DecodeError> {
    let word = |i: usize| -> Option<u32> {
        let b = bytes.get(i * 4..i * 4 + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let magic = word(0).ok_or(DecodeError::Length(bytes.len()))?;
    let expected_len = match magic & VFS_CAP_REVISION_MASK {
        VFS_CAP_REVISION_1 => 12,
        VFS_CAP_REVISION_2 => 20,
        VFS_CAP_REVISION_3 => 24,
        other => return Err(DecodeError::Revision(other)),
    };
    if bytes.len() != expected_len {
        return Err(DecodeError::Length(bytes.len()));
    }
    let w = |i| word(i).unwrap_or(0);
    let (permitted, inheritable) = if expected_len == 12 {
        (CapSet::from_words(w(1), 0), CapSet::from_words(w(2), 0))
    } else {
        (
            CapSet::from_words(w(1), w(3)),
            CapSet::from_words(w(2), w(4)),
        )
    };
    Ok(FileCaps {
        permitted,
        inheritable,
        effective: magic & VFS_CAP_FLAGS_EFFECTIVE != 0,
        namespace_root: (expected_len == 24).then(|| w(5)),
    })
}

/// A process's capability sets as `/proc/P/status` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProcessCaps {
    pub inheritable: CapSet,
    pub permitted: CapSet,
    pub effective: CapSet,
    pub bounding: CapSet,
    pub ambient: CapSet,
    /// `no_new_privs` is set: `exec` grants no file capabilities.
    pub no_new_privs: bool,
}

/// Parses the `Cap*:` and `NoNewPrivs:` lines of `/proc/P/status`.
pub fn parse_status(text: &str) -> ProcessCaps {
    let mut caps = ProcessCaps::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        let hex = || CapSet(u64::from_str_radix(value, 16).unwrap_or(0));
        match key {
            "CapInh" => caps.inheritable = hex(),
            "CapPrm" => caps.permitted = hex(),
            "CapEff" => caps.effective = hex(),
            "CapBnd" => caps.bounding = hex(),
            "CapAmb" => caps.ambient = hex(),
            "NoNewPrivs" => caps.no_new_privs = value == "1",
            _ => {}
        }
    }
    caps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_matches_the_kernel_layout_and_round_trips() {
        let set = CapSet::forensics();
        let bytes = encode(set, true);
        // magic: revision 2 with the effective flag
        assert_eq!(&bytes[0..4], &[1, 0, 0, 2]);
        // low word: dac_read_search (2), sys_ptrace (19), sys_admin (21)
        let low = (1u32 << 2) | (1 << 19) | (1 << 21);
        assert_eq!(&bytes[4..8], &low.to_le_bytes());
        assert_eq!(&bytes[8..12], &[0; 4], "inheritable low");
        // high word: syslog (34 = bit 2), perfmon (38 = bit 6 of the high word)
        assert_eq!(&bytes[12..16], &((1u32 << 2) | (1 << 6)).to_le_bytes());
        let back = decode(&bytes).unwrap();
        assert_eq!(back.permitted, set);
        assert!(back.effective);
        assert!(back.inheritable.is_empty());
        assert_eq!(back.namespace_root, None);
        assert_eq!(
            back.describe(),
            "cap_dac_read_search,cap_sys_ptrace,cap_sys_admin,cap_syslog,cap_perfmon=ep"
        );
    }

    #[test]
    fn decodes_revision_1_and_3_and_rejects_garbage() {
        let mut v1 = Vec::new();
        for w in [0x0100_0000u32, 1 << 19, 0] {
            v1.extend_from_slice(&w.to_le_bytes());
        }
        let c = decode(&v1).unwrap();
        assert_eq!(c.permitted, CapSet::of(&[CAP_SYS_PTRACE]));
        assert!(!c.effective);
        assert_eq!(c.describe(), "cap_sys_ptrace=p");

        let mut v3 = Vec::new();
        for w in [0x0300_0001u32, 0, 1 << 2, 1 << 2, 0, 100_000] {
            v3.extend_from_slice(&w.to_le_bytes());
        }
        let c = decode(&v3).unwrap();
        assert_eq!(c.permitted, CapSet::of(&[CAP_SYSLOG]));
        assert_eq!(c.inheritable, CapSet::of(&[CAP_DAC_READ_SEARCH]));
        assert_eq!(c.namespace_root, Some(100_000));
        assert!(c.describe().contains("eip"));

        assert_eq!(decode(&[1, 2]), Err(DecodeError::Length(2)));
        assert_eq!(
            decode(&[0, 0, 0, 9, 0, 0, 0, 0]),
            Err(DecodeError::Revision(0x0900_0000))
        );
        assert_eq!(decode(&v1[..8]), Err(DecodeError::Length(8)));
    }

    #[test]
    fn sets_print_readably() {
        assert_eq!(CapSet::default().to_string(), "none");
        assert_eq!(
            CapSet::of(&[CAP_SYS_PTRACE, CAP_SYSLOG]).to_string(),
            "cap_sys_ptrace,cap_syslog"
        );
        assert_eq!(CapSet(0x1ff_ffff_ffff).to_string(), "all");
        assert_eq!(
            CapSet(0x1ff_feff_ffff).to_string(),
            "all except cap_sys_resource"
        );
        assert_eq!(name(63), "cap_63");
    }

    #[test]
    fn status_lines_parse() {
        let text = "Name:\tcat\nCapInh:\t0000000000000000\nCapPrm:\t0000004400280004\n\
                    CapEff:\t0000004400280004\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000080000\n\
                    NoNewPrivs:\t1\n";
        let c = parse_status(text);
        assert_eq!(c.permitted, CapSet::forensics());
        assert_eq!(c.effective, CapSet::forensics());
        assert_eq!(c.ambient, CapSet::of(&[CAP_SYS_PTRACE]));
        assert!(c.no_new_privs);
        assert_eq!(parse_status("garbage"), ProcessCaps::default());
    }
}
