//! The executable files mapped into a profiled process: where each lies (`/proc/P/maps`), how
//! its addresses translate to the file's own (`bias`), and the unwind sections
//! (`.eh_frame`, `.eh_frame_hdr`) the unwinder reads. Files are read once per capture and
//! shared by every process that maps them.

use super::files;
use object::{Object, ObjectSection, ObjectSegment};
use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One line of `/proc/P/maps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub start: u64,
    pub end: u64,
    pub exec: bool,
    pub offset: u64,
    /// `major:minor` of the file's device, as printed.
    pub dev: String,
    pub inode: u64,
    /// The file, `[vdso]`, `[stack]`, or empty for anonymous memory.
    pub path: String,
}

/// Parses `/proc/P/maps`; lines that do not parse are skipped.
pub fn parse_maps(text: &str) -> Vec<Mapping> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.splitn(6, ' ');
            let (range, perms, offset, dev, inode) =
                (f.next()?, f.next()?, f.next()?, f.next()?, f.next()?);
            let path = f.next().unwrap_or("").trim_start().to_string();
            let (a, b) = range.split_once('-')?;
            Some(Mapping {
                start: u64::from_str_radix(a, 16).ok()?,
                end: u64::from_str_radix(b, 16).ok()?,
                exec: perms.as_bytes().get(2) == Some(&b'x'),
                offset: u64::from_str_radix(offset, 16).ok()?,
                dev: dev.to_string(),
                inode: inode.parse().ok()?,
                path,
            })
        })
        .collect()
}

/// Unwind sections larger than this are not read (no real binary comes near).
const MAX_SECTION: u64 = 64 << 20;
/// A file someone else could change is copied (sealed) for the symbolizer up to this size;
/// beyond it, its frames keep their addresses only.
const MAX_COPY: u64 = 512 << 20;

/// What a mapped ELF file offers the profiler, read once.
#[derive(Debug)]
pub struct ElfFile {
    /// Files kept open for as long as their `/proc/self/fd` paths are used.
    _keep: Vec<std::fs::File>,
    /// Where the symbolizer reads it (`/proc/self/fd/N` of the checked file, or of a sealed
    /// copy); None when it may not be mapped and is too large to copy.
    pub symbols_path: Option<PathBuf>,
    /// Size of the file in bytes.
    pub len: u64,
    /// (file offset, file size, virtual address) of each PT_LOAD segment.
    segments: Vec<(u64, u64, u64)>,
    pub eh_frame: Option<(Range<u64>, Arc<[u8]>)>,
    pub eh_frame_hdr: Option<(Range<u64>, Arc<[u8]>)>,
    pub text_svma: Option<Range<u64>>,
    pub got_svma: Option<Range<u64>>,
}

impl ElfFile {
    /// Reads the parts the profiler needs from `path`, which must be the regular file with
    /// device `dev` and inode `inode` (checked on what was opened, since a process can swap a
    /// path between our look and our open). None when it is not that file or not ELF.
    pub fn read(path: &Path, dev: &str, inode: u64) -> Option<ElfFile> {
        let file = files::open_regular(path, u64::MAX, |m| same_identity(m, dev, inode))?;
        let meta = file.metadata().ok()?;
        let mut keep = Vec::new();
        let symbols_path = if files::trusted(&meta) {
            Some(files::fd_path(&file))
        } else if meta.len() <= MAX_COPY {
            // The symbolizer maps what it reads: a file its owner may truncate meanwhile
            // would crash the daemon (SIGBUS), so it gets a sealed copy.
            let copy = files::sealed_copy(&file, meta.len(), "rogue-hunter-elf").ok()?;
            let p = files::fd_path(&copy);
            keep.push(copy);
            Some(p)
        } else {
            None
        };
        let reader = file.try_clone().ok()?;
        keep.push(file);
        let cache = object::ReadCache::new(reader);
        let elf = object::File::parse(&cache).ok()?;
        let segments = elf
            .segments()
            .map(|s| {
                let (off, size) = s.file_range();
                (off, size, s.address())
            })
            .collect();
        let section = |name: &str| -> Option<(Range<u64>, Arc<[u8]>)> {
            let s = elf.section_by_name(name)?;
            if s.size() > MAX_SECTION {
                return None;
            }
            let data = s.data().ok()?;
            Some((s.address()..s.address() + s.size(), Arc::from(data)))
        };
        let range = |name: &str| -> Option<Range<u64>> {
            let s = elf.section_by_name(name)?;
            Some(s.address()..s.address() + s.size())
        };
        Some(ElfFile {
            segments,
            eh_frame: section(".eh_frame"),
            eh_frame_hdr: section(".eh_frame_hdr"),
            text_svma: range(".text"),
            got_svma: range(".got"),
            symbols_path,
            len: meta.len(),
            _keep: keep,
        })
    }

    /// The file's own address of the byte at `file_offset` (for the load bias).
    pub fn svma_of_offset(&self, file_offset: u64) -> Option<u64> {
        self.segments
            .iter()
            .find(|&&(off, size, _)| file_offset >= off && file_offset < off + size.max(1))
            .map(|(off, _, vaddr)| vaddr + (file_offset - off))
    }
}

/// An executable file as mapped in one process.
#[derive(Debug, Clone)]
pub struct Image {
    /// The path `/proc/P/maps` shows.
    pub path: String,
    pub avma: Range<u64>,
    /// Process address = file address + bias.
    pub bias: u64,
    pub file: Arc<ElfFile>,
}

impl Image {
    pub fn name(&self) -> &str {
        let p = self.path.trim_end_matches(" (deleted)");
        p.rsplit('/').next().unwrap_or(p)
    }

    /// The file's own address (what debug info uses) of a process address.
    pub fn svma(&self, avma: u64) -> u64 {
        avma.wrapping_sub(self.bias)
    }
}

/// Files read during one capture, by (device, inode, path).
#[derive(Default)]
pub struct FileCache {
    files: HashMap<(String, u64, String), Option<Arc<ElfFile>>>,
}

impl FileCache {
    /// The executable images of a process.
    pub fn images(&mut self, proc_root: &Path, pid: u32, maps: &[Mapping]) -> Vec<Image> {
        let mut by_file: Vec<(usize, Range<u64>)> = Vec::new();
        for (i, m) in maps.iter().enumerate() {
            if !m.exec || !m.path.starts_with('/') || m.inode == 0 {
                continue;
            }
            match by_file
                .iter_mut()
                .find(|(j, _)| maps[*j].path == m.path && maps[*j].inode == m.inode)
            {
                Some((_, r)) => {
                    r.start = r.start.min(m.start);
                    r.end = r.end.max(m.end);
                }
                None => by_file.push((i, m.start..m.end)),
            }
        }
        by_file
            .into_iter()
            .filter_map(|(i, avma)| {
                let m = &maps[i];
                let key = (m.dev.clone(), m.inode, m.path.clone());
                let file = self
                    .files
                    .entry(key)
                    .or_insert_with(|| {
                        let open = openable_path(proc_root, pid, m)?;
                        ElfFile::read(&open, &m.dev, m.inode).map(Arc::new)
                    })
                    .clone()?;
                let svma = file.svma_of_offset(m.offset)?;
                Some(Image {
                    path: m.path.clone(),
                    bias: m.start.wrapping_sub(svma),
                    avma,
                    file,
                })
            })
            .collect()
    }
}

/// A path through which the daemon reads the file a mapping shows: the path itself when it is
/// that same file (device and inode agree), else through the process's root (another mount
/// namespace), else `map_files` (deleted files; needs CAP_SYS_ADMIN).
fn openable_path(proc_root: &Path, pid: u32, m: &Mapping) -> Option<PathBuf> {
    let clean = m.path.trim_end_matches(" (deleted)");
    let proc_dir = proc_root.join(pid.to_string());
    let candidates = [
        PathBuf::from(clean),
        proc_dir.join("root").join(clean.trim_start_matches('/')),
        proc_dir
            .join("map_files")
            .join(format!("{:x}-{:x}", m.start, m.end)),
    ];
    candidates
        .into_iter()
        .find(|p| same_file(p, &m.dev, m.inode))
}

fn same_file(p: &Path, dev: &str, inode: u64) -> bool {
    std::fs::metadata(p).is_ok_and(|meta| same_identity(&meta, dev, inode))
}

/// The device and inode `/proc/P/maps` printed for a mapping.
fn same_identity(meta: &std::fs::Metadata, dev: &str, inode: u64) -> bool {
    use std::os::unix::fs::MetadataExt;
    if meta.ino() != inode {
        return false;
    }
    let d = meta.dev();
    let (major, minor) = (libc::major(d), libc::minor(d));
    let Some((a, b)) = dev.split_once(':') else {
        return true;
    };
    match (u32::from_str_radix(a, 16), u32::from_str_radix(b, 16)) {
        (Ok(a), Ok(b)) => a == major && b == minor,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
55d0c0a00000-55d0c0a01000 r--p 00000000 08:01 1311 /usr/bin/busy
55d0c0a01000-55d0c0a02000 r-xp 00001000 08:01 1311 /usr/bin/busy
7f1e2a000000-7f1e2a028000 r--p 00000000 08:01 2222 /usr/lib/x86_64-linux-gnu/libc.so.6
7f1e2a028000-7f1e2a1bd000 r-xp 00028000 08:01 2222 /usr/lib/x86_64-linux-gnu/libc.so.6
7f1e2a400000-7f1e2a401000 rw-p 00000000 00:00 0 
7ffd1c000000-7ffd1c021000 rw-p 00000000 00:00 0                          [stack]
7ffd1c1f0000-7ffd1c1f2000 r-xp 00000000 00:00 0                          [vdso]
7f00aa000000-7f00aa001000 r-xp 00000000 08:01 77 /tmp/my lib (deleted)
garbage line
";

    #[test]
    fn maps_lines_parse_with_spaces_and_markers() {
        let m = parse_maps(MAPS);
        assert_eq!(m.len(), 8);
        assert_eq!(m[1].start, 0x55d0c0a01000);
        assert!(m[1].exec && !m[0].exec);
        assert_eq!(m[3].offset, 0x28000);
        assert_eq!((m[3].dev.as_str(), m[3].inode), ("08:01", 2222));
        assert_eq!(m[4].path, "");
        assert_eq!(m[6].path, "[vdso]");
        assert_eq!(m[7].path, "/tmp/my lib (deleted)");
    }

    #[test]
    fn our_own_executable_reads_with_its_unwind_sections_and_bias() {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let mut cache = FileCache::default();
        let images = cache.images(Path::new("/proc"), std::process::id(), &parse_maps(&maps));
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let me = images
            .iter()
            .find(|i| Path::new(&i.path) == exe)
            .expect("the test binary is an image");
        assert!(me.file.eh_frame.is_some() && me.file.eh_frame_hdr.is_some());
        // This very function's address maps back into the file's .text.
        let here =
            our_own_executable_reads_with_its_unwind_sections_and_bias as *const () as usize as u64;
        assert!(me.avma.contains(&here));
        let text = me.file.text_svma.clone().expect(".text");
        assert!(
            text.contains(&me.svma(here)),
            "{:x} in {text:x?}",
            me.svma(here)
        );
        // libc is shared: a second process's images reuse the file read for the first.
        let n = cache.files.len();
        cache.images(Path::new("/proc"), std::process::id(), &parse_maps(&maps));
        assert_eq!(cache.files.len(), n);
    }
}
