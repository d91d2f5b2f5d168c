//! Binary images of a process from `/proc/P/maps`, with GNU build-ids read from the ELF notes
//! (the Linux counterpart of the UUIDs in a spindump's Binary Images section).

use crate::store::capture_data::BinaryImage;
use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

const NT_GNU_BUILD_ID: u32 = 3;
const PT_NOTE: u32 = 4;

/// Executable file mappings of a process, one image per file, lowest address first.
pub fn images(proc_root: &Path, pid: u32) -> std::io::Result<Vec<BinaryImage>> {
    let maps = crate::procfs::ProcRoot::open(proc_root)?.read_string(&format!("{pid}/maps"))?;
    let mut by_path: BTreeMap<String, (u64, u64, bool)> = BTreeMap::new();
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let (Some(range), Some(perms)) = (f.next(), f.next()) else {
            continue;
        };
        let path: String = f.skip(3).collect::<Vec<_>>().join(" ");
        if !path.starts_with('/') {
            continue;
        }
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) else {
            continue;
        };
        let e = by_path.entry(path).or_insert((start, end, false));
        e.0 = e.0.min(start);
        e.1 = e.1.max(end);
        e.2 |= perms.contains('x');
    }
    let mut out: Vec<BinaryImage> = by_path
        .into_iter()
        .filter(|(_, (_, _, exec))| *exec)
        .map(|(path, (start, end, _))| {
            let clean = path.trim_end_matches(" (deleted)");
            let root_path = proc_root
                .join(pid.to_string())
                .join("root")
                .join(clean.trim_start_matches('/'));
            let uuid = build_id_of_file(&root_path).or_else(|| build_id_of_file(Path::new(clean)));
            BinaryImage {
                start_address: format!("{start:#x}"),
                end_address: Some(format!("{end:#x}")),
                name: clean.rsplit('/').next().unwrap_or(clean).to_string(),
                version: None,
                uuid,
                path: Some(path.clone()),
                is_kernel: false,
            }
        })
        .collect();
    out.sort_by_key(|i| {
        u64::from_str_radix(i.start_address.trim_start_matches("0x"), 16).unwrap_or(0)
    });
    Ok(out)
}

/// The running kernel as an image, with its build-id from `/sys/kernel/notes`.
pub fn kernel_image() -> Option<BinaryImage> {
    let notes = std::fs::read("/sys/kernel/notes").ok()?;
    let release = crate::procfs::ProcRoot::live()
        .and_then(|r| r.read_string("sys/kernel/osrelease"))
        .unwrap_or_default();
    Some(BinaryImage {
        start_address: "0x0".into(),
        end_address: None,
        name: "kernel".into(),
        version: Some(release.trim().to_string()).filter(|s| !s.is_empty()),
        uuid: build_id_in_notes(&notes, true),
        path: None,
        is_kernel: true,
    })
}

/// Reads the build-id of an ELF file from its PT_NOTE segments.
pub fn build_id_of_file(path: &Path) -> Option<String> {
    let mut f = std::fs::File::open(path).ok()?;
    let mut ident = [0u8; 64];
    f.read_exact(&mut ident).ok()?;
    if &ident[..4] != b"\x7fELF" {
        return None;
    }
    let is64 = ident[4] == 2;
    let le = ident[5] == 1;
    let u16_at = |b: &[u8], o: usize| -> Option<u64> {
        let s: [u8; 2] = b.get(o..o + 2)?.try_into().ok()?;
        Some(u64::from(if le {
            u16::from_le_bytes(s)
        } else {
            u16::from_be_bytes(s)
        }))
    };
    let u32_at = |b: &[u8], o: usize| -> Option<u64> {
        let s: [u8; 4] = b.get(o..o + 4)?.try_into().ok()?;
        Some(u64::from(if le {
            u32::from_le_bytes(s)
        } else {
            u32::from_be_bytes(s)
        }))
    };
    let u64_at = |b: &[u8], o: usize| -> Option<u64> {
        let s: [u8; 8] = b.get(o..o + 8)?.try_into().ok()?;
        Some(if le {
            u64::from_le_bytes(s)
        } else {
            u64::from_be_bytes(s)
        })
    };
    let (phoff, phentsize, phnum) = if is64 {
        (
            u64_at(&ident, 32)?,
            u16_at(&ident, 54)?,
            u16_at(&ident, 56)?,
        )
    } else {
        (
            u32_at(&ident, 28)?,
            u16_at(&ident, 42)?,
            u16_at(&ident, 44)?,
        )
    };
    if phnum == 0 || phnum > 256 || phentsize < 32 {
        return None;
    }
    let mut table = vec![0u8; usize::try_from(phentsize * phnum).ok()?];
    f.seek(SeekFrom::Start(phoff)).ok()?;
    f.read_exact(&mut table).ok()?;
    for i in 0..phnum {
        let h = &table[usize::try_from(i * phentsize).ok()?..];
        if u32_at(h, 0)? != u64::from(PT_NOTE) {
            continue;
        }
        let (offset, size) = if is64 {
            (u64_at(h, 8)?, u64_at(h, 32)?)
        } else {
            (u32_at(h, 4)?, u32_at(h, 16)?)
        };
        if size == 0 || size > 1 << 20 {
            continue;
        }
        let mut notes = vec![0u8; usize::try_from(size).ok()?];
        f.seek(SeekFrom::Start(offset)).ok()?;
        if f.read_exact(&mut notes).is_err() {
            continue;
        }
        if let Some(id) = build_id_in_notes(&notes, le) {
            return Some(id);
        }
    }
    None
}

/// Finds the NT_GNU_BUILD_ID note in a note section and returns its descriptor as hex.
pub fn build_id_in_notes(notes: &[u8], le: bool) -> Option<String> {
    let rd = |o: usize| -> Option<usize> {
        let s: [u8; 4] = notes.get(o..o + 4)?.try_into().ok()?;
        usize::try_from(if le {
            u32::from_le_bytes(s)
        } else {
            u32::from_be_bytes(s)
        })
        .ok()
    };
    let align = |n: usize| n.div_ceil(4) * 4;
    let mut o = 0;
    while o + 12 <= notes.len() {
        let (namesz, descsz, kind) = (rd(o)?, rd(o + 4)?, rd(o + 8)?);
        let name_start = o + 12;
        let desc_start = name_start.checked_add(align(namesz))?;
        let next = desc_start.checked_add(align(descsz))?;
        if next > notes.len() {
            return None;
        }
        if kind == NT_GNU_BUILD_ID as usize
            && notes.get(name_start..name_start + namesz)? == b"GNU\0"
        {
            let desc = notes.get(desc_start..desc_start + descsz)?;
            return Some(desc.iter().map(|b| format!("{b:02x}")).collect());
        }
        o = next;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(name: &[u8], kind: u32, desc: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend((name.len() as u32).to_le_bytes());
        v.extend((desc.len() as u32).to_le_bytes());
        v.extend(kind.to_le_bytes());
        v.extend(name);
        v.resize(v.len().div_ceil(4) * 4, 0);
        v.extend(desc);
        v.resize(v.len().div_ceil(4) * 4, 0);
        v
    }

    #[test]
    fn build_id_is_found_after_other_notes() {
        let mut notes = note(b"Xen\0", 1, &[1, 2, 3]);
        notes.extend(note(b"GNU\0", 3, &[0xde, 0xad, 0xbe, 0xef]));
        assert_eq!(build_id_in_notes(&notes, true).as_deref(), Some("deadbeef"));
        assert_eq!(
            build_id_in_notes(&notes[..20], true),
            None,
            "truncated notes"
        );
        assert_eq!(build_id_in_notes(&[], true), None);
    }

    #[test]
    fn our_own_binary_and_maps() {
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        // Rust test binaries are linked with a build-id on Linux toolchains; libc always is.
        let imgs = images(Path::new("/proc"), std::process::id()).unwrap();
        assert!(imgs.iter().any(|i| i.path.as_deref() == exe.to_str()));
        let libc = imgs.iter().find(|i| i.name.starts_with("libc.so"));
        if let Some(libc) = libc {
            let id = libc.uuid.as_deref().expect("libc has a build-id");
            assert!(
                id.len() >= 16 && id.chars().all(|c| c.is_ascii_hexdigit()),
                "{id}"
            );
        }
        for w in imgs.windows(2) {
            let a = u64::from_str_radix(w[0].start_address.trim_start_matches("0x"), 16).unwrap();
            let b = u64::from_str_radix(w[1].start_address.trim_start_matches("0x"), 16).unwrap();
            assert!(a <= b);
        }
    }

    #[test]
    fn non_elf_files_have_no_build_id() {
        let t = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(t.path(), b"#!/bin/sh\necho hi\n").unwrap();
        assert_eq!(build_id_of_file(t.path()), None);
        assert_eq!(build_id_of_file(Path::new("/nonexistent")), None);
    }
}
