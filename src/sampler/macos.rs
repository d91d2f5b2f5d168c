//! The macOS sampler: libproc through `libc`, as the original collector did.
//!
//! Per pass: `proc_listallpids`, then per pid `proc_pidinfo(PROC_PIDTBSDINFO)` (identity, name,
//! state, parent, uid; required), `proc_pid_rusage(RUSAGE_INFO_V4)` (CPU, memory, disk, energy,
//! wakeups, run-queue time, instructions) and `proc_pidinfo(PROC_PIDTASKINFO)` (faults, switches,
//! system calls, threads, Mach messages, priority). Mach absolute-time values are converted to ns
//! with the timebase read once. Unlike the original, a process whose rusage or task info is
//! refused (EPERM: another user's process while the daemon runs unprivileged) stays in the
//! sample with those fields 0 and the refusal counted, as on Linux.
//!
//! `gpu_time` is 0: the IOKit walk the original used (AGXDeviceUserClient `AppUsage`) needs
//! CoreFoundation bindings this crate does not carry yet. `runnable_time` and `qos_interactive`
//! are stored in ns (the original stored raw Mach ticks).

use crate::config::{BandsConfig, Config, ScoringConfig};
use crate::model::{ProcState, ProcessScore, Sample};
use crate::sampler::pass::{self, PassInfo, rate, wall_now};
use crate::sampler::{Sampler, SamplerError};
use std::collections::HashMap;
use std::ffi::c_void;
use std::time::Instant;

#[repr(C)]
struct Timebase {
    numer: u32,
    denom: u32,
}

unsafe extern "C" {
    fn mach_timebase_info(info: *mut Timebase) -> i32;
}

/// Previous counters of one process (pid, start time), in ns where time.
#[derive(Debug, Clone, Copy)]
struct Baseline {
    at: Instant,
    seen: u64,
    cpu_ns: u64,
    pageins: u64,
    faults: u64,
    disk_io: u64,
    csw: u64,
    syscalls: u64,
    mach_msgs: u64,
    energy: u64,
    wakeups: u64,
    runnable_ns: u64,
    qos_ns: u64,
}

/// Samples every process through libproc.
pub struct MacSampler {
    numer: u64,
    denom: u64,
    pids: Vec<i32>,
    baselines: HashMap<(u32, u64), Baseline>,
    seq: u64,
    scoring: ScoringConfig,
    bands: BandsConfig,
    max_count: usize,
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn refused(e: i32) -> bool {
    e == libc::EPERM || e == libc::EACCES
}

/// `pbi_status` → state: 1 idle (being created), 2 running, 3 sleeping, 4 stopped, 5 zombie.
fn state_of(status: u32) -> ProcState {
    match status {
        1 => ProcState::Idle,
        2 => ProcState::Running,
        3 => ProcState::Sleeping,
        4 => ProcState::Stopped,
        5 => ProcState::Zombie,
        _ => ProcState::Unknown,
    }
}

/// A NUL-terminated C char array as text.
fn c_name(chars: &[libc::c_char]) -> String {
    let bytes: Vec<u8> = chars
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

impl MacSampler {
    /// Reads the Mach timebase once.
    pub fn new(config: &Config) -> Result<MacSampler, SamplerError> {
        let mut tb = Timebase { numer: 0, denom: 0 };
        // SAFETY: valid out-pointer.
        let ok = unsafe { mach_timebase_info(&mut tb) } == 0 && tb.numer > 0 && tb.denom > 0;
        let (numer, denom) = if ok {
            (u64::from(tb.numer), u64::from(tb.denom))
        } else {
            (1, 1)
        };
        Ok(MacSampler {
            numer,
            denom,
            pids: Vec::new(),
            baselines: HashMap::new(),
            seq: 0,
            scoring: config.scoring.clone(),
            bands: config.bands.clone(),
            max_count: config.rogue_selection.max_count as usize,
        })
    }

    fn ticks_to_ns(&self, ticks: u64) -> u64 {
        u64::try_from(u128::from(ticks) * u128::from(self.numer) / u128::from(self.denom))
            .unwrap_or(u64::MAX)
    }

    fn list_pids(&mut self) -> Result<(), SamplerError> {
        // SAFETY: a null buffer asks for the count only.
        let n = unsafe { libc::proc_listallpids(std::ptr::null_mut(), 0) };
        if n <= 0 {
            return Err(SamplerError::ListPids(std::io::Error::last_os_error()));
        }
        // Room for processes started between the two calls.
        self.pids.resize(n as usize + 64, 0);
        let bytes = i32::try_from(self.pids.len() * std::mem::size_of::<i32>()).unwrap_or(i32::MAX);
        // SAFETY: the buffer holds `bytes` bytes.
        let got = unsafe { libc::proc_listallpids(self.pids.as_mut_ptr().cast::<c_void>(), bytes) };
        if got < 0 {
            return Err(SamplerError::ListPids(std::io::Error::last_os_error()));
        }
        self.pids.truncate((got as usize).min(self.pids.len()));
        Ok(())
    }
}

impl Sampler for MacSampler {
    fn sample(&mut self) -> Result<Sample, SamplerError> {
        let started = Instant::now();
        self.list_pids()?;
        self.seq += 1;
        let seq = self.seq;
        let mut denied = 0u32;
        let mut out = Vec::with_capacity(self.pids.len());
        let pids = std::mem::take(&mut self.pids);
        for &pid in pids.iter().filter(|&&p| p > 0) {
            // SAFETY (all three calls): zeroed plain-data structs are valid out-values, and each
            // call is told the exact size of its buffer.
            let mut bsd: libc::proc_bsdinfo = unsafe { std::mem::zeroed() };
            let bsd_size = std::mem::size_of::<libc::proc_bsdinfo>() as i32;
            let n = unsafe {
                libc::proc_pidinfo(
                    pid,
                    libc::PROC_PIDTBSDINFO,
                    0,
                    (&raw mut bsd).cast(),
                    bsd_size,
                )
            };
            if n <= 0 {
                if refused(errno()) {
                    denied += 1;
                }
                continue;
            }
            let at = Instant::now();
            let zombie = bsd.pbi_status == 5;

            let mut ri: libc::rusage_info_v4 = unsafe { std::mem::zeroed() };
            let rc = unsafe {
                libc::proc_pid_rusage(
                    pid,
                    libc::RUSAGE_INFO_V4,
                    (&raw mut ri).cast::<libc::rusage_info_t>(),
                )
            };
            let rusage = if rc == 0 {
                Some(ri)
            } else {
                let e = errno();
                if refused(e) {
                    denied += 1;
                } else if !zombie {
                    continue; // exited mid-read
                }
                None
            };

            let mut ti: libc::proc_taskinfo = unsafe { std::mem::zeroed() };
            let ti_size = std::mem::size_of::<libc::proc_taskinfo>() as i32;
            let n = unsafe {
                libc::proc_pidinfo(
                    pid,
                    libc::PROC_PIDTASKINFO,
                    0,
                    (&raw mut ti).cast(),
                    ti_size,
                )
            };
            let task = if n > 0 {
                Some(ti)
            } else {
                let e = errno();
                if refused(e) {
                    denied += 1;
                } else if !zombie {
                    continue;
                }
                None
            };

            let mut name_buf = [0u8; 256];
            let len = unsafe {
                libc::proc_name(
                    pid,
                    name_buf.as_mut_ptr().cast::<c_void>(),
                    name_buf.len() as u32,
                )
            };
            let command = if len > 0 {
                String::from_utf8_lossy(&name_buf[..(len as usize).min(name_buf.len())])
                    .into_owned()
            } else {
                let n = c_name(&bsd.pbi_name);
                if !n.is_empty() {
                    n
                } else {
                    let c = c_name(&bsd.pbi_comm);
                    if c.is_empty() {
                        format!("pid_{pid}")
                    } else {
                        c
                    }
                }
            };

            let r = rusage.unwrap_or(unsafe { std::mem::zeroed() });
            let t = task.unwrap_or(unsafe { std::mem::zeroed() });
            // The task-info counters are int32 in the kernel and wrap: read them as u32.
            let u = |v: i32| u64::from(v as u32);
            let cur = Baseline {
                at,
                seen: seq,
                cpu_ns: self.ticks_to_ns(r.ri_user_time) + self.ticks_to_ns(r.ri_system_time),
                pageins: r.ri_pageins,
                faults: u(t.pti_faults),
                disk_io: r
                    .ri_diskio_bytesread
                    .saturating_add(r.ri_diskio_byteswritten),
                csw: u(t.pti_csw),
                syscalls: u(t.pti_syscalls_mach) + u(t.pti_syscalls_unix),
                mach_msgs: u(t.pti_messages_sent) + u(t.pti_messages_received),
                energy: r.ri_billed_energy,
                wakeups: r.ri_pkg_idle_wkups.saturating_add(r.ri_interrupt_wkups),
                runnable_ns: self.ticks_to_ns(r.ri_runnable_time),
                qos_ns: self.ticks_to_ns(r.ri_cpu_time_qos_user_interactive),
            };
            let start_time = bsd.pbi_start_tvsec as f64 + bsd.pbi_start_tvusec as f64 / 1e6;
            let key = (pid as u32, start_time.to_bits());
            let prev = self.baselines.insert(key, cur);
            let dt = prev.map_or(0.0, |p| at.duration_since(p.at).as_secs_f64());
            let rt = |f: fn(&Baseline) -> u64| prev.map_or(0.0, |p| rate(f(&p), f(&cur), dt));

            out.push(ProcessScore {
                pid: pid as u32,
                command,
                captured_at: wall_now(),
                cpu: rt(|b| b.cpu_ns) / 1e9 * 100.0,
                mem: r.ri_phys_footprint,
                mem_peak: r.ri_lifetime_max_phys_footprint,
                pageins: cur.pageins,
                pageins_rate: rt(|b| b.pageins),
                faults: cur.faults,
                faults_rate: rt(|b| b.faults),
                disk_io: cur.disk_io,
                disk_io_rate: rt(|b| b.disk_io),
                csw: cur.csw,
                csw_rate: rt(|b| b.csw),
                syscalls: cur.syscalls,
                syscalls_rate: rt(|b| b.syscalls),
                threads: u32::try_from(t.pti_threadnum).unwrap_or(0),
                mach_msgs: cur.mach_msgs,
                mach_msgs_rate: rt(|b| b.mach_msgs),
                instructions: r.ri_instructions,
                cycles: r.ri_cycles,
                ipc: if r.ri_cycles > 0 {
                    r.ri_instructions as f64 / r.ri_cycles as f64
                } else {
                    0.0
                },
                energy: cur.energy,
                energy_rate: rt(|b| b.energy),
                wakeups: cur.wakeups,
                wakeups_rate: rt(|b| b.wakeups),
                runnable_time: cur.runnable_ns,
                runnable_time_rate: rt(|b| b.runnable_ns) / 1e6,
                qos_interactive: cur.qos_ns,
                qos_interactive_rate: rt(|b| b.qos_ns) / 1e6,
                state: state_of(bsd.pbi_status),
                priority: t.pti_priority,
                ppid: bsd.pbi_ppid,
                uid: bsd.pbi_uid,
                start_time,
                ..ProcessScore::default()
            });
        }
        self.pids = pids;
        self.baselines.retain(|_, b| b.seen == seq);
        Ok(pass::finish(
            out,
            PassInfo {
                seq,
                started,
                access_denied: denied,
                scoring: &self.scoring,
                bands: &self.bands,
                max_count: self.max_count,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_map_like_the_original() {
        let got: Vec<ProcState> = [0, 1, 2, 3, 4, 5, 99].into_iter().map(state_of).collect();
        assert_eq!(
            got,
            vec![
                ProcState::Unknown,
                ProcState::Idle,
                ProcState::Running,
                ProcState::Sleeping,
                ProcState::Stopped,
                ProcState::Zombie,
                ProcState::Unknown
            ]
        );
    }

    #[test]
    fn this_process_is_sampled() {
        let mut s = MacSampler::new(&Config::default()).expect("sampler");
        s.sample().expect("first pass");
        let sample = s.sample().expect("second pass");
        let me = sample
            .processes
            .iter()
            .find(|p| p.pid == std::process::id())
            .expect("own pid");
        assert!(me.mem > 0 && me.threads >= 1 && me.start_time > 1.0e9);
    }
}
