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
//!
//! For the impact model: children's CPU from `ri_child_user_time + ri_child_system_time`, the
//! resource coalition (`PROC_PIDCOALITIONINFO`) as the unit group, and for the machine the CPU
//! count, the load average, `hw.memsize` and `kern.memorystatus_vm_pressure_level` (there is no
//! PSI: pressure is estimated from run-queue time, `ri_runnable_time`, and that level).

use super::pass::{PassInput, PassState};
use crate::config::Config;
use crate::machine::MachineCounters;
use crate::model::{ProcState, Sample};
use crate::reading::{Counters, ProcessReading};
use crate::sampler::{Sampler, SamplerError};
use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::Arc;
use std::time::Instant;

#[repr(C)]
struct Timebase {
    numer: u32,
    denom: u32,
}

unsafe extern "C" {
    fn mach_timebase_info(info: *mut Timebase) -> i32;
}

/// `PROC_PIDCOALITIONINFO` of `<sys/proc_info.h>` and its result.
const PROC_PIDCOALITIONINFO: i32 = 20;

#[repr(C)]
struct CoalitionInfo {
    /// By coalition type: 0 resource, 1 jetsam.
    coalition_id: [u64; 2],
    reserved: [u64; 3],
}

/// Previous counters of one process (pid, start time).
#[derive(Debug, Clone, Copy)]
struct Baseline {
    at: Instant,
    seen: u64,
    counters: Counters,
}

/// Samples every process through libproc.
pub struct MacSampler {
    numer: u64,
    denom: u64,
    pids: Vec<i32>,
    baselines: HashMap<(u32, u64), Baseline>,
    seq: u64,
    state: PassState,
}

/// An integer sysctl by name.
fn sysctl_u64(name: &std::ffi::CStr) -> Option<u64> {
    let mut v: u64 = 0;
    let mut len = std::mem::size_of::<u64>();
    // SAFETY: the buffer is a u64 of the size we pass; the name is NUL-terminated.
    let rc = unsafe {
        libc::sysctlbyname(
            name.as_ptr(),
            (&mut v as *mut u64).cast(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    match (rc, len) {
        (0, 8) => Some(v),
        (0, 4) => Some(u64::from(v as u32)),
        _ => None,
    }
}

/// The machine's counters macOS offers cheaply.
fn machine_counters() -> MachineCounters {
    let mut load = [0f64; 3];
    // SAFETY: the array holds the 3 values asked for.
    let have_load = unsafe { libc::getloadavg(load.as_mut_ptr(), 3) } >= 1;
    let mem_total = sysctl_u64(c"hw.memsize").unwrap_or(0);
    MachineCounters {
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        load1: if have_load { load[0] } else { 0.0 },
        mem_total,
        // No cheap "available" figure: memory use adds no stress; the pressure level does.
        mem_available: mem_total,
        memory_level: sysctl_u64(c"kern.memorystatus_vm_pressure_level")
            .and_then(|l| u8::try_from(l).ok()),
        ..MachineCounters::default()
    }
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
            state: PassState::new(config),
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
            let counters = Counters {
                cpu_ns: self.ticks_to_ns(r.ri_user_time) + self.ticks_to_ns(r.ri_system_time),
                child_cpu_ns: self.ticks_to_ns(r.ri_child_user_time)
                    + self.ticks_to_ns(r.ri_child_system_time),
                pageins: r.ri_pageins,
                faults: u(t.pti_faults),
                disk_io: Some(
                    r.ri_diskio_bytesread
                        .saturating_add(r.ri_diskio_byteswritten),
                ),
                csw: u(t.pti_csw),
                syscalls: Some(u(t.pti_syscalls_mach) + u(t.pti_syscalls_unix)),
                mach_msgs: u(t.pti_messages_sent) + u(t.pti_messages_received),
                energy: r.ri_billed_energy,
                wakeups: r.ri_pkg_idle_wkups.saturating_add(r.ri_interrupt_wkups),
                runnable_ns: self.ticks_to_ns(r.ri_runnable_time),
                qos_ns: self.ticks_to_ns(r.ri_cpu_time_qos_user_interactive),
                gpu_ns: 0,
            };
            let start_time = bsd.pbi_start_tvsec as f64 + bsd.pbi_start_tvusec as f64 / 1e6;
            let key = (pid as u32, start_time.to_bits());
            let prev = self.baselines.insert(
                key,
                Baseline {
                    at,
                    seen: seq,
                    counters,
                },
            );
            let mut coal: CoalitionInfo = unsafe { std::mem::zeroed() };
            let coal_size = std::mem::size_of::<CoalitionInfo>() as i32;
            let n = unsafe {
                libc::proc_pidinfo(
                    pid,
                    PROC_PIDCOALITIONINFO,
                    0,
                    (&raw mut coal).cast(),
                    coal_size,
                )
            };
            let group = (n == coal_size && coal.coalition_id[0] != 0)
                .then(|| Arc::from(format!("coalition:{}", coal.coalition_id[0]).as_str()));
            out.push(ProcessReading {
                pid: pid as u32,
                ppid: bsd.pbi_ppid,
                pgid: bsd.pbi_pgid,
                uid: bsd.pbi_uid,
                command,
                start_time,
                state: state_of(bsd.pbi_status),
                priority: t.pti_priority,
                threads: u32::try_from(t.pti_threadnum).unwrap_or(0),
                kernel_thread: false,
                mem: r.ri_phys_footprint,
                mem_peak: r.ri_lifetime_max_phys_footprint,
                instructions: r.ri_instructions,
                cycles: r.ri_cycles,
                gpu_time: 0,
                group,
                now: counters,
                prev: prev.map(|p| (p.counters, at.duration_since(p.at).as_secs_f64())),
                wakeups_span: None,
            });
        }
        self.pids = pids;
        self.baselines.retain(|_, b| b.seen == seq);
        Ok(self.state.finish(PassInput {
            started,
            readings: out,
            machine: machine_counters(),
            access_denied: denied,
        }))
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
