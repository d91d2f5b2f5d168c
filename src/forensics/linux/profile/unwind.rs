//! User stacks unwound in the daemon from the bytes the kernel copied with each sample, by the
//! DWARF CFI (`.eh_frame`) of the process's executable files (framehop), falling back to frame
//! pointers where a file has none.

use super::arch::{self, UserRegs};
use super::modules::Image;
use framehop::{
    CacheNative, ExplicitModuleSectionInfo, MayAllocateDuringUnwind, Module, Unwinder,
    UnwinderNative,
};
use std::sync::Arc;

/// Frames beyond this many are cut (a corrupt stack can loop).
pub const MAX_USER_FRAMES: usize = 256;

type Data = Arc<[u8]>;

/// The unwinder of one process: its images and a rule cache.
pub struct ProcessUnwinder {
    unwinder: UnwinderNative<Data, MayAllocateDuringUnwind>,
    cache: CacheNative<MayAllocateDuringUnwind>,
    images: Vec<Image>,
}

/// The result of unwinding one sample.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Unwound {
    /// Lookup addresses, innermost first: the pc, then each return address minus one.
    pub frames: Vec<u64>,
    /// Unwinding stopped before the stack's end (the copy ended, no unwind rule, a loop).
    pub truncated: bool,
}

impl ProcessUnwinder {
    pub fn new(images: Vec<Image>) -> ProcessUnwinder {
        let mut unwinder = UnwinderNative::new();
        for img in &images {
            unwinder.add_module(module(img));
        }
        ProcessUnwinder {
            unwinder,
            cache: CacheNative::new(),
            images,
        }
    }

    /// Replaces the images (a library was loaded since).
    pub fn set_images(&mut self, images: Vec<Image>) {
        for old in &self.images {
            self.unwinder.remove_module(old.avma.start);
        }
        for img in &images {
            self.unwinder.add_module(module(img));
        }
        self.images = images;
    }

    pub fn images(&self) -> &[Image] {
        &self.images
    }

    /// Whether `addr` lies in a known image.
    pub fn knows(&self, addr: u64) -> bool {
        self.images.iter().any(|i| i.avma.contains(&addr))
    }

    /// Unwinds a sample's user stack: `stack` holds the bytes from `regs.sp` upwards.
    pub fn unwind(&mut self, regs: &UserRegs, stack: &[u8]) -> Unwound {
        let sp = regs.sp;
        let mut read_stack = |addr: u64| -> Result<u64, ()> {
            let off = usize::try_from(addr.checked_sub(sp).ok_or(())?).map_err(|_| ())?;
            let bytes = stack.get(off..off.checked_add(8).ok_or(())?).ok_or(())?;
            let mut w = [0u8; 8];
            w.copy_from_slice(bytes);
            Ok(u64::from_ne_bytes(w))
        };
        let mut out = Unwound::default();
        let mut iter = self.unwinder.iter_frames(
            regs.pc,
            arch::unwind_regs(regs),
            &mut self.cache,
            &mut read_stack,
        );
        loop {
            match iter.next() {
                Ok(Some(frame)) => {
                    if out.frames.len() == MAX_USER_FRAMES {
                        out.truncated = true;
                        break;
                    }
                    out.frames.push(frame.address_for_lookup());
                }
                Ok(None) => break,
                Err(_) => {
                    out.truncated = true;
                    break;
                }
            }
        }
        out
    }
}

fn module(img: &Image) -> Module<Data> {
    let f = &img.file;
    Module::new(
        img.path.clone(),
        img.avma.clone(),
        img.bias,
        ExplicitModuleSectionInfo {
            base_svma: 0,
            text_svma: f.text_svma.clone(),
            got_svma: f.got_svma.clone(),
            eh_frame_svma: f.eh_frame.as_ref().map(|(r, _)| r.clone()),
            eh_frame: f.eh_frame.as_ref().map(|(_, d)| d.clone()),
            eh_frame_hdr_svma: f.eh_frame_hdr.as_ref().map(|(r, _)| r.clone()),
            eh_frame_hdr: f.eh_frame_hdr.as_ref().map(|(_, d)| d.clone()),
            ..Default::default()
        },
    )
}
