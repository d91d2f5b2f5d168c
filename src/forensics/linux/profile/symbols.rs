//! Addresses to frames at capture time, while the files still exist: user addresses by the ELF
//! file that holds them (symbols, demangled names, inlined functions and file:line from DWARF
//! where present, separate debug files found by build-id), addresses outside any file (JIT
//! code) through the process's `perf-PID.map`, kernel addresses through kallsyms.

use super::modules::Image;
use crate::forensics::calltree::RawFrame;
use blazesym::symbolize::source::{Elf, Kernel, Process, Source};
use blazesym::symbolize::{CodeInfo, Input, Sym, Symbolized, Symbolizer};
use blazesym::{MaybeDefault, Pid};
use std::collections::HashMap;

/// Resolves addresses; one per capture, so files are parsed once.
pub struct Symbols {
    inner: Symbolizer,
}

impl Default for Symbols {
    fn default() -> Self {
        Symbols {
            inner: Symbolizer::builder()
                .enable_code_info(true)
                .enable_inlined_fns(true)
                .enable_demangling(true)
                .build(),
        }
    }
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
    /// Resolves user addresses of process `pid` with its images.
    pub fn user(&self, pid: u32, images: &[Image], addrs: &[u64]) -> HashMap<u64, Resolved> {
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
            let src = Source::Elf(Elf::new(img.file.open_path.clone()));
            let results = self
                .inner
                .symbolize(&src, Input::VirtOffset(&svmas))
                .unwrap_or_default();
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
            // JIT code and the vDSO: the process's perf map, while it still runs.
            let mut p = Process::new(Pid::from(pid));
            p.map_files = false;
            p.debug_syms = false;
            let results = self
                .inner
                .symbolize(&Source::Process(p), Input::AbsAddr(&outside))
                .unwrap_or_default();
            for (k, &a) in outside.iter().enumerate() {
                let frames = match results.get(k) {
                    Some(Symbolized::Sym(sym)) => {
                        let module = sym.module.as_deref().map(|m| {
                            m.to_string_lossy()
                                .rsplit('/')
                                .next()
                                .unwrap_or("")
                                .to_string()
                        });
                        frames_of(sym, a, module.as_deref(), None, false)
                    }
                    _ => unknown(a, None, None, false),
                };
                out.insert(a, frames);
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
