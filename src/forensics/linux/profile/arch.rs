//! The CPU-specific part of a profile: which user registers the kernel copies with each sample
//! (only those an unwinder needs), and how they start framehop's unwinding.

use framehop::UnwindRegsNative;

/// The registers a user stack unwinds from: program counter, stack pointer, frame pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserRegs {
    pub pc: u64,
    pub sp: u64,
    pub fp: u64,
    /// The link register (aarch64); 0 elsewhere.
    pub lr: u64,
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use super::UserRegs;

    // perf_regs.h: PERF_REG_X86_BP = 6, SP = 7, IP = 8; samples list them in bit order.
    pub const REGS_MASK: u64 = (1 << 6) | (1 << 7) | (1 << 8);
    pub const REGS_COUNT: usize = 3;

    pub fn user_regs(reg: impl Fn(usize) -> Option<u64>) -> Option<UserRegs> {
        Some(UserRegs {
            fp: reg(0)?,
            sp: reg(1)?,
            pc: reg(2)?,
            lr: 0,
        })
    }

    pub fn unwind_regs(r: &UserRegs) -> framehop::UnwindRegsNative {
        framehop::x86_64::UnwindRegsX86_64::new(r.pc, r.sp, r.fp)
    }
}

#[cfg(target_arch = "aarch64")]
mod imp {
    use super::UserRegs;

    // perf_regs.h: PERF_REG_ARM64_X29 = 29, LR = 30, SP = 31, PC = 32.
    pub const REGS_MASK: u64 = (1 << 29) | (1 << 30) | (1 << 31) | (1 << 32);
    pub const REGS_COUNT: usize = 4;

    pub fn user_regs(reg: impl Fn(usize) -> Option<u64>) -> Option<UserRegs> {
        Some(UserRegs {
            fp: reg(0)?,
            lr: reg(1)?,
            sp: reg(2)?,
            pc: reg(3)?,
        })
    }

    pub fn unwind_regs(r: &UserRegs) -> framehop::UnwindRegsNative {
        framehop::aarch64::UnwindRegsAarch64::new(r.lr, r.sp, r.fp)
    }
}

pub use imp::{REGS_COUNT, REGS_MASK, user_regs};

/// framehop's starting registers for a sample.
pub fn unwind_regs(r: &UserRegs) -> UnwindRegsNative {
    imp::unwind_regs(r)
}
