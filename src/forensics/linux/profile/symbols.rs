//! Addresses to frames at capture time, while the files still exist: user addresses by the ELF
//! file that holds them (symbols, demangled names, inlined functions and file:line from DWARF
//! where present, separate debug files found by build-id), the vDSO by the daemon's own copy of
//! it, other addresses (JIT code) through the process's `perf-PID.map`, kernel addresses
//! through kallsyms. The files come checked from [`super::modules`]; the perf map is read (never
//! mapped) with the same care.

use super::files;
use super::modules::Image;
use crate::forensics::calltree::RawFrame;
use blazesym::MaybeDefault;
use blazesym::symbolize::source::{Elf, Kernel, Source};
use blazesym::symbolize::{CodeInfo, Input, Sym, Symbolized, Symbolizer};
use std::cell::Cell;
use std::collections::HashMap;
use std::io::Read;
use std::ops::Range;
use std::path::Path;
use std::time::{Duration, Instant};

/// Perf maps longer than this are not read.
const MAX_PERF_MAP: u64 = 64 << 20;

/// Symbolizing stops this long after it began: a culprit mapping huge binaries (a compiler
/// with a 150 MB library) must not hold the capture, and a manual capture queued behind it
/// (the CLI waits 10 s for the daemon to start it), for long. It usually takes under a second.
const BUDGET: Duration = Duration::from_secs(4);
/// Debug information of files larger than this is not read: their frames get ELF symbols only.
const MAX_DWARF_FILE: u64 = 256 << 20;

/// Resolves addresses; one per capture, so files are parsed once.
pub struct Symbols {
    inner: Symbolizer,
    deadline: Instant,
    /// Images left unsymbolized because the budget ran out.
    pub skipped: Cell<usize>,
    /// The daemon's own vDSO image (the kernel gives every process the same one), sealed in a
    /// memfd, with its link-time base address.
    vdso: Option<(std::fs::File, u64)>,
}

impl Default for Symbols {
    fn default() -> Self {
        Symbols {
            inner: Symbolizer::builder()
                .enable_code_info(true)
                .enable_inlined_fns(true)
                .enable_demangling(true)
                .build(),
            vdso: own_vdso(),
            deadline: Instant::now() + BUDGET,
            skipped: Cell::new(0),
        }
    }
}

/// Copies this process's vDSO into a sealed memfd, with the address of its first segment.
fn own_vdso() -> Option<(std::fs::File, u64)> {
    use object::{Object, ObjectSegment};
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let m = super::modules::parse_maps(&maps)
        .into_iter()
        .find(|m| m.path == "[vdso]")?;
    let len = usize::try_from(m.end - m.start).ok()?;
    // SAFETY: [vdso] is mapped readable in this process for its whole life, at this range.
    let bytes: &[u8] = unsafe { std::slice::from_raw_parts(m.start as *const u8, len) };
    let base = object::File::parse(bytes)
        .ok()?
        .segments()
        .map(|s| s.address())
        .min()
        .unwrap_or(0);
    let copy = files::sealed_copy(bytes, len as u64, "rogue-hunter-vdso").ok()?;
    Some((copy, base))
}

/// A process's perf map (`/tmp/perf-PID.map` as it sees it): (start, end, name), sorted.
fn perf_map(proc_root: &Path, pid: u32) -> Vec<(u64, u64, String)> {
    let status =
        std::fs::read_to_string(proc_root.join(pid.to_string()).join("status")).unwrap_or_default();
    // The pid the process sees itself as (the last of NSpid), in its own /tmp.
    let ns_pid = status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .and_then(|l| l.split_whitespace().last()?.parse::<u32>().ok())
        .unwrap_or(pid);
    let path = proc_root
        .join(pid.to_string())
        .join("root/tmp")
        .join(format!("perf-{ns_pid}.map"));
    let Some(file) = files::open_regular(&path, MAX_PERF_MAP, |_| true) else {
        return Vec::new();
    };
    let mut text = String::new();
    if file.take(MAX_PERF_MAP).read_to_string(&mut text).is_err() {
        return Vec::new();
    }
    parse_perf_map(&text)
}

/// `START SIZE name` lines (hex numbers, `0x` optional).
fn parse_perf_map(text: &str) -> Vec<(u64, u64, String)> {
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok();
    let mut v: Vec<(u64, u64, String)> = text
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ' ');
            let start = hex(f.next()?)?;
            let size = hex(f.next()?)?;
            let name = f.next()?.trim();
            (!name.is_empty()).then(|| (start, start.saturating_add(size), name.to_string()))
        })
        .collect();
    v.sort_by_key(|e| e.0);
    v
}

fn in_perf_map(map: &[(u64, u64, String)], addr: u64) -> Option<&str> {
    let i = map.partition_point(|e| e.0 <= addr);
    let (start, end, name) = map.get(i.checked_sub(1)?)?;
    (addr >= *start && addr < *end).then_some(name.as_str())
}

/// Frames of one address, outermost (the function) first, then functions inlined into it.
pub type Resolved = Vec<RawFrame>;

fn code_location(ci: Option<&CodeInfo<'_>>) -> (Option<String>, Option<u32>) {
    match ci {
        Some(ci) => (Some(ci.to_path().to_string_lossy().into_owned()), ci.line),
        None => (None, None),
    }
}

fn frames_of(
    sym: &Sym<'_>,
    addr: u64,
    library: Option<&str>,
    lib_offset: Option<u64>,
    kernel: bool,
) -> Resolved {
    let (file, line) = code_location(sym.code_info.as_deref());
    let mut out = vec![RawFrame {
        is_kernel: kernel,
        symbol: Some(sym.name.to_string()),
        symbol_offset: i64::try_from(sym.offset).ok(),
        library: library.map(str::to_string),
        library_offset: lib_offset.and_then(|o| i64::try_from(o).ok()),
        address: format!("{addr:#x}"),
        source_file: file,
        source_line: line,
    }];
    for inl in sym.inlined.iter() {
        let (file, line) = code_location(inl.code_info.as_ref());
        out.push(RawFrame {
            is_kernel: kernel,
            symbol: Some(inl.name.to_string()),
            symbol_offset: None,
            library: library.map(str::to_string),
            library_offset: lib_offset.and_then(|o| i64::try_from(o).ok()),
            address: format!("{addr:#x}"),
            source_file: file,
            source_line: line,
        });
    }
    out
}

fn unknown(addr: u64, library: Option<&str>, lib_offset: Option<u64>, kernel: bool) -> Resolved {
    vec![RawFrame {
        is_kernel: kernel,
        symbol: None,
        symbol_offset: None,
        library: library.map(str::to_string),
        library_offset: lib_offset.and_then(|o| i64::try_from(o).ok()),
        address: format!("{addr:#x}"),
        source_file: None,
        source_line: None,
    }]
}

impl Symbols {
    /// Resolves user addresses of process `pid` with its images and its vDSO range.
    pub fn user(
        &self,
        proc_root: &Path,
        pid: u32,
        images: &[Image],
        vdso: Option<Range<u64>>,
        addrs: &[u64],
    ) -> HashMap<u64, Resolved> {
        let mut out = HashMap::with_capacity(addrs.len());
        let mut by_image: HashMap<usize, Vec<u64>> = HashMap::new();
        let mut outside = Vec::new();
        for &a in addrs {
            match images.iter().position(|i| i.avma.contains(&a)) {
                Some(i) => by_image.entry(i).or_default().push(a),
                None => outside.push(a),
            }
        }
        for (i, list) in by_image {
            let img = &images[i];
            let svmas: Vec<u64> = list.iter().map(|&a| img.svma(a)).collect();
            let results = match &img.file.symbols_path {
                Some(_) if Instant::now() >= self.deadline => {
                    self.skipped.set(self.skipped.get() + 1);
                    Vec::new()
                }
                Some(path) => {
                    let mut elf = Elf::new(path.clone());
                    elf.debug_syms = img.file.len <= MAX_DWARF_FILE;
                    self.inner
                        .symbolize(&Source::Elf(elf), Input::VirtOffset(&svmas))
                        .unwrap_or_default()
                }
                None => Vec::new(),
            };
            for (k, &a) in list.iter().enumerate() {
                let svma = svmas[k];
                let frames = match results.get(k) {
                    Some(Symbolized::Sym(sym)) => {
                        frames_of(sym, a, Some(img.name()), Some(svma), false)
                    }
                    _ => unknown(a, Some(img.name()), Some(svma), false),
                };
                out.insert(a, frames);
            }
        }
        if !outside.is_empty() {
            let jit = perf_map(proc_root, pid);
            let mut in_vdso: Vec<u64> = Vec::new();
            for &a in &outside {
                if let Some(name) = in_perf_map(&jit, a) {
                    out.insert(
                        a,
                        vec![RawFrame {
                            symbol: Some(name.to_string()),
                            library: Some("[perf-map]".into()),
                            address: format!("{a:#x}"),
                            ..Default::default()
                        }],
                    );
                } else if vdso.as_ref().is_some_and(|r| r.contains(&a)) {
                    in_vdso.push(a);
                } else {
                    out.insert(a, unknown(a, None, None, false));
                }
            }
            if let (Some((copy, base)), Some(range)) = (&self.vdso, vdso) {
                let offsets: Vec<u64> = in_vdso.iter().map(|a| a - range.start + base).collect();
                let src = Source::Elf(Elf::new(files::fd_path(copy)));
                let results = self
                    .inner
                    .symbolize(&src, Input::VirtOffset(&offsets))
                    .unwrap_or_default();
                for (k, &a) in in_vdso.iter().enumerate() {
                    let frames = match results.get(k) {
                        Some(Symbolized::Sym(sym)) => {
                            frames_of(sym, a, Some("[vdso]"), None, false)
                        }
                        _ => unknown(a, Some("[vdso]"), None, false),
                    };
                    out.insert(a, frames);
                }
            }
            for a in in_vdso {
                out.entry(a)
                    .or_insert_with(|| unknown(a, Some("[vdso]"), None, false));
            }
        }
        out
    }

    /// Resolves kernel addresses through kallsyms.
    pub fn kernel(&self, addrs: &[u64]) -> HashMap<u64, Resolved> {
        let src = Source::Kernel(Kernel {
            vmlinux: MaybeDefault::None,
            ..Default::default()
        });
        let results = self
            .inner
            .symbolize(&src, Input::AbsAddr(addrs))
            .unwrap_or_default();
        addrs
            .iter()
            .enumerate()
            .map(|(k, &a)| {
                let frames = match results.get(k) {
                    Some(Symbolized::Sym(sym)) => {
                        let mut f = frames_of(sym, a, Some("kernel"), None, true);
                        // kallsyms has no line information; keep just the function.
                        f.truncate(1);
                        f
                    }
                    _ => unknown(a, Some("kernel"), None, true),
                };
                (a, frames)
            })
            .collect()
    }
}
