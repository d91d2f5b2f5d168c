//! The records a profile's perf ring buffers hold, parsed from bytes (pure: tested without a
//! kernel). Every event is opened with the same `sample_type` ([`SAMPLE_TYPE`]) and
//! `sample_id_all`, so one layout serves both the cpu-clock and the context-switch event, and
//! the `IDENTIFIER` word tells them apart in a shared ring.
//!
//! Layout of a sample (`perf_event_open(2)`, in `sample_type` bit order): identifier, ip,
//! pid/tid, time, callchain (`nr` then `nr` words), user registers (`abi` then one word per bit
//! of `sample_regs_user`), user stack (`size`, `size` bytes, `dyn_size` when `size > 0`).

use perf_event_open_sys::bindings as b;

/// What every profile event samples.
pub const SAMPLE_TYPE: u64 = (b::PERF_SAMPLE_IDENTIFIER
    | b::PERF_SAMPLE_IP
    | b::PERF_SAMPLE_TID
    | b::PERF_SAMPLE_TIME
    | b::PERF_SAMPLE_CALLCHAIN
    | b::PERF_SAMPLE_REGS_USER
    | b::PERF_SAMPLE_STACK_USER) as u64;

/// Bytes of the `sample_id` trailer of non-sample records: pid/tid, time, identifier.
const SAMPLE_ID_LEN: usize = 24;

/// Callchain entries at or above this value are context markers (`PERF_CONTEXT_*`), not
/// addresses.
const CONTEXT_MAX: u64 = -4095i64 as u64;

/// One record of a ring.
#[derive(Debug, PartialEq)]
pub enum Record<'a> {
    Sample(Sample<'a>),
    /// The kernel dropped `lost` records of event `id` (the ring was full).
    Lost {
        id: u64,
        lost: u64,
    },
    /// A context switch of `tid` at `time` (`out`: it left the CPU; `preempt`: it was still
    /// runnable).
    Switch {
        tid: u32,
        time: u64,
        out: bool,
        preempt: bool,
    },
    /// A record the profile has no use for (throttling, comm, …), or a malformed one.
    Other,
}

/// A stack sample.
#[derive(Debug, PartialEq)]
pub struct Sample<'a> {
    /// Which event produced it (`PERF_EVENT_IOC_ID`).
    pub id: u64,
    pub ip: u64,
    pub pid: u32,
    pub tid: u32,
    pub time: u64,
    /// The kernel's callchain (innermost first), context markers included.
    callchain: &'a [u8],
    /// User registers in `sample_regs_user` bit order; empty when the sample has none (a
    /// kernel thread).
    regs: &'a [u8],
    /// The copied user stack, starting at the user stack pointer.
    pub stack: &'a [u8],
    /// The copy filled all the room asked for: the stack may go on beyond it.
    pub stack_full: bool,
}

impl Sample<'_> {
    /// Kernel return addresses, innermost first (the markers left out).
    pub fn kernel_frames(&self) -> impl Iterator<Item = u64> + '_ {
        self.callchain
            .chunks_exact(8)
            .map(word)
            .filter(|&a| a < CONTEXT_MAX && a != 0)
    }

    /// Entries in the callchain, markers included (the kernel caps it at
    /// `kernel.perf_event_max_stack`).
    pub fn callchain_len(&self) -> usize {
        self.callchain.len() / 8
    }

    /// User register `i` (in mask order), if the sample has user registers.
    pub fn user_reg(&self, i: usize) -> Option<u64> {
        self.regs.get(i * 8..i * 8 + 8).map(word)
    }
}

fn word(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_ne_bytes(a)
}

/// Reads native-endian words from a record, failing on a short record.
struct Cursor<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn u64(&mut self) -> Option<u64> {
        let v = self.buf.get(self.at..self.at + 8).map(word)?;
        self.at += 8;
        Some(v)
    }

    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let v = self.buf.get(self.at..end)?;
        self.at = end;
        Some(v)
    }
}

/// Parses one whole record (header included). `user_regs` is the number of bits set in
/// `sample_regs_user`.
pub fn parse(record: &[u8], user_regs: usize) -> Record<'_> {
    parse_checked(record, user_regs).unwrap_or(Record::Other)
}

fn parse_checked(record: &[u8], user_regs: usize) -> Option<Record<'_>> {
    let head = record.get(..8)?;
    let kind = u32::from_ne_bytes(head[..4].try_into().ok()?);
    let misc = u16::from_ne_bytes(head[4..6].try_into().ok()?);
    let body = &record[8..];
    match kind {
        b::PERF_RECORD_SAMPLE => parse_sample(body, user_regs).map(Record::Sample),
        b::PERF_RECORD_LOST => {
            let mut c = Cursor { buf: body, at: 0 };
            Some(Record::Lost {
                id: c.u64()?,
                lost: c.u64()?,
            })
        }
        b::PERF_RECORD_SWITCH => {
            let trailer = body.get(body.len().checked_sub(SAMPLE_ID_LEN)?..)?;
            let tid = u32::from_ne_bytes(trailer[4..8].try_into().ok()?);
            Some(Record::Switch {
                tid,
                time: word(&trailer[8..16]),
                out: u32::from(misc) & b::PERF_RECORD_MISC_SWITCH_OUT != 0,
                preempt: u32::from(misc) & b::PERF_RECORD_MISC_SWITCH_OUT_PREEMPT != 0,
            })
        }
        _ => Some(Record::Other),
    }
}

fn parse_sample(body: &[u8], user_regs: usize) -> Option<Sample<'_>> {
    let mut c = Cursor { buf: body, at: 0 };
    let id = c.u64()?;
    let ip = c.u64()?;
    let pid_tid = c.u64()?;
    let time = c.u64()?;
    let nr = usize::try_from(c.u64()?).ok()?;
    let callchain = c.bytes(nr.checked_mul(8)?)?;
    let abi = c.u64()?;
    let regs = if abi == 0 {
        &[][..]
    } else {
        c.bytes(user_regs * 8)?
    };
    let size = usize::try_from(c.u64()?).ok()?;
    let (stack, stack_full) = if size == 0 {
        (&[][..], false)
    } else {
        let data = c.bytes(size)?;
        let dyn_size = usize::try_from(c.u64()?).ok()?.min(size);
        (&data[..dyn_size], dyn_size == size)
    };
    let pid_tid = pid_tid.to_ne_bytes();
    Some(Sample {
        id,
        ip,
        pid: u32::from_ne_bytes(pid_tid[..4].try_into().ok()?),
        tid: u32::from_ne_bytes(pid_tid[4..].try_into().ok()?),
        time,
        callchain,
        regs,
        stack,
        stack_full,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds records the way the kernel lays them out.
    pub struct RecordBuilder(Vec<u8>);

    impl RecordBuilder {
        pub fn new(kind: u32, misc: u16) -> RecordBuilder {
            let mut v = Vec::new();
            v.extend(kind.to_ne_bytes());
            v.extend(misc.to_ne_bytes());
            v.extend(0u16.to_ne_bytes()); // size, set in finish
            RecordBuilder(v)
        }
        pub fn u64(mut self, x: u64) -> Self {
            self.0.extend(x.to_ne_bytes());
            self
        }
        pub fn pid_tid(mut self, pid: u32, tid: u32) -> Self {
            self.0.extend(pid.to_ne_bytes());
            self.0.extend(tid.to_ne_bytes());
            self
        }
        pub fn bytes(mut self, b: &[u8]) -> Self {
            self.0.extend(b);
            self
        }
        pub fn finish(mut self) -> Vec<u8> {
            while !self.0.len().is_multiple_of(8) {
                self.0.push(0);
            }
            let n = self.0.len() as u16;
            self.0[6..8].copy_from_slice(&n.to_ne_bytes());
            self.0
        }
    }

    /// A sample with the given kernel callchain, registers and stack.
    pub fn sample_bytes(
        id: u64,
        tid: u32,
        time: u64,
        kernel: &[u64],
        regs: &[u64],
        stack: &[u8],
        room: usize,
    ) -> Vec<u8> {
        let mut r = RecordBuilder::new(b::PERF_RECORD_SAMPLE, 0)
            .u64(id)
            .u64(regs.get(2).copied().unwrap_or(0))
            .pid_tid(tid, tid)
            .u64(time)
            .u64(kernel.len() as u64 + u64::from(!kernel.is_empty()));
        if !kernel.is_empty() {
            r = r.u64(-128i64 as u64); // PERF_CONTEXT_KERNEL
        }
        for k in kernel {
            r = r.u64(*k);
        }
        if regs.is_empty() {
            r = r.u64(0);
        } else {
            r = r.u64(2); // PERF_SAMPLE_REGS_ABI_64
            for x in regs {
                r = r.u64(*x);
            }
        }
        r = r.u64(room as u64);
        if room > 0 {
            let mut data = stack.to_vec();
            data.resize(room, 0);
            r = r.bytes(&data).u64(stack.len() as u64);
        }
        r.finish()
    }

    #[test]
    fn a_sample_reads_back_field_by_field() {
        let stack: Vec<u8> = (0..64u8).collect();
        let bytes = sample_bytes(
            7,
            42,
            1000,
            &[0xffff_ffff_8100_0000],
            &[1, 2, 3],
            &stack,
            128,
        );
        let Record::Sample(s) = parse(&bytes, 3) else {
            panic!("not a sample")
        };
        assert_eq!((s.id, s.tid, s.pid, s.time, s.ip), (7, 42, 42, 1000, 3));
        assert_eq!(
            s.kernel_frames().collect::<Vec<_>>(),
            [0xffff_ffff_8100_0000]
        );
        assert_eq!(s.callchain_len(), 2, "marker plus one frame");
        assert_eq!(
            (s.user_reg(0), s.user_reg(2), s.user_reg(3)),
            (Some(1), Some(3), None)
        );
        assert_eq!(s.stack, &stack[..]);
        assert!(!s.stack_full);
    }

    #[test]
    fn a_kernel_thread_sample_has_no_registers_and_no_stack() {
        let bytes = sample_bytes(1, 9, 5, &[0xffff_ffff_8100_0010], &[], &[], 0);
        let Record::Sample(s) = parse(&bytes, 3) else {
            panic!("not a sample")
        };
        assert_eq!(s.user_reg(0), None);
        assert!(s.stack.is_empty());
    }

    #[test]
    fn a_full_stack_copy_is_flagged() {
        let stack = [1u8; 32];
        let bytes = sample_bytes(1, 9, 5, &[], &[1, 2, 3], &stack, 32);
        let Record::Sample(s) = parse(&bytes, 3) else {
            panic!("not a sample")
        };
        assert!(s.stack_full);
        assert_eq!(s.kernel_frames().count(), 0);
    }

    #[test]
    fn switch_and_lost_records() {
        let out = RecordBuilder::new(
            b::PERF_RECORD_SWITCH,
            (b::PERF_RECORD_MISC_SWITCH_OUT | b::PERF_RECORD_MISC_SWITCH_OUT_PREEMPT) as u16,
        )
        .pid_tid(5, 6)
        .u64(777)
        .u64(99)
        .finish();
        assert_eq!(
            parse(&out, 3),
            Record::Switch {
                tid: 6,
                time: 777,
                out: true,
                preempt: true
            }
        );
        let back = RecordBuilder::new(b::PERF_RECORD_SWITCH, 0)
            .pid_tid(5, 6)
            .u64(900)
            .u64(99)
            .finish();
        assert!(matches!(
            parse(&back, 3),
            Record::Switch {
                out: false,
                time: 900,
                ..
            }
        ));
        let lost = RecordBuilder::new(b::PERF_RECORD_LOST, 0)
            .u64(3)
            .u64(12)
            .pid_tid(5, 6)
            .u64(1)
            .u64(3)
            .finish();
        assert_eq!(parse(&lost, 3), Record::Lost { id: 3, lost: 12 });
    }

    #[test]
    fn truncated_or_hostile_records_are_other() {
        let good = sample_bytes(1, 9, 5, &[0xffff_ffff_8100_0000], &[1, 2, 3], &[1; 16], 16);
        for cut in [0, 4, 8, 20, 40, good.len() - 8] {
            assert_eq!(parse(&good[..cut], 3), Record::Other, "cut at {cut}");
        }
        // A callchain length far beyond the record.
        let mut bad = good.clone();
        bad[40..48].copy_from_slice(&u64::MAX.to_ne_bytes());
        assert_eq!(parse(&bad, 3), Record::Other);
        assert_eq!(parse(&[], 3), Record::Other);
    }
}
