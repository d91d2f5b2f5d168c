//! [`SystemReader`]: the machine-wide files (`stat`, `meminfo`, `loadavg`, `pressure/*`), held
//! open and re-read with `pread` once per pass (about 30 µs for all of them).

use super::parse::{self, LoadAvg, Meminfo, Pressure, SystemStat};
use super::sys::{self, Fail, RelPath};
use std::fs::File;
use std::path::Path;

/// One reading of the machine-wide files. A file that is missing or unreadable is `None`:
/// `pressure` is absent on kernels without PSI (or booted with `psi=0`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SystemReading {
    pub stat: Option<SystemStat>,
    pub meminfo: Option<Meminfo>,
    pub loadavg: Option<LoadAvg>,
    /// cpu, memory, io.
    pub pressure: [Option<Pressure>; 3],
}

/// The machine-wide files of one proc root.
pub struct SystemReader {
    stat: Option<File>,
    meminfo: Option<File>,
    loadavg: Option<File>,
    pressure: [Option<File>; 3],
    buf: Vec<u8>,
}

/// The PSI files, in the order of [`SystemReading::pressure`].
pub const PRESSURE_FILES: [&str; 3] = ["pressure/cpu", "pressure/memory", "pressure/io"];

impl SystemReader {
    /// Opens what exists under `root` (a proc root directory).
    pub fn open(root: &Path) -> SystemReader {
        let dir = sys::open_dir(root).ok();
        let open = |name: &str| {
            dir.as_ref()
                .and_then(|d| sys::open_at(d, &RelPath::name(name), false).ok())
        };
        SystemReader {
            stat: open("stat"),
            meminfo: open("meminfo"),
            loadavg: open("loadavg"),
            pressure: PRESSURE_FILES.map(open),
            buf: vec![0; 4096],
        }
    }

    /// Whether the PSI files exist (all three).
    pub fn has_pressure(&self) -> bool {
        self.pressure.iter().all(Option::is_some)
    }

    /// Reads every file once.
    pub fn read(&mut self) -> SystemReading {
        let SystemReader {
            stat,
            meminfo,
            loadavg,
            pressure,
            buf,
        } = self;
        let mut pressure_now = [None; 3];
        for (slot, file) in pressure_now.iter_mut().zip(pressure.iter_mut()) {
            *slot = read(file, buf).and_then(parse::pressure);
        }
        SystemReading {
            stat: read(stat, buf).and_then(parse::system_stat),
            meminfo: read(meminfo, buf).and_then(parse::meminfo),
            loadavg: read(loadavg, buf).and_then(parse::loadavg),
            pressure: pressure_now,
        }
    }
}

/// Reads a held file; a file that refuses to be read (EOPNOTSUPP from PSI disabled at boot,
/// for one) is dropped so it is not retried every pass.
fn read<'a>(file: &mut Option<File>, buf: &'a mut Vec<u8>) -> Option<&'a [u8]> {
    let f = file.as_ref()?;
    match sys::pread_all(f, buf) {
        Ok(n) => Some(&buf[..n]),
        Err(Fail::Other | Fail::Denied | Fail::Absent) => {
            *file = None;
            None
        }
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_fake_root_and_goes_without_pressure() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(
            t.path().join("stat"),
            "cpu  10 0 5 100 1 0 0 0\ncpu0 10 0 5 100 1 0 0 0\nctxt 77\nprocesses 9\nbtime 1\n",
        )
        .unwrap();
        std::fs::write(
            t.path().join("meminfo"),
            "MemTotal: 1000 kB\nMemAvailable: 400 kB\n",
        )
        .unwrap();
        let mut r = SystemReader::open(t.path());
        assert!(!r.has_pressure());
        let s = r.read();
        assert_eq!(s.stat.unwrap().ctxt, 77);
        assert_eq!(s.meminfo.unwrap().mem_available_kb, Some(400));
        assert_eq!(s.loadavg, None);
        assert_eq!(s.pressure, [None; 3]);

        std::fs::create_dir(t.path().join("pressure")).unwrap();
        for f in PRESSURE_FILES {
            std::fs::write(
                t.path().join(f),
                "some avg10=1.00 avg60=0.50 avg300=0.10 total=1000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
            )
            .unwrap();
        }
        let mut r = SystemReader::open(t.path());
        assert!(r.has_pressure());
        let s = r.read();
        assert_eq!(s.pressure[1].unwrap().some.total_us, 1000);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_the_live_proc() {
        let mut r = SystemReader::open(Path::new("/proc"));
        let s = r.read();
        let st = s.stat.expect("/proc/stat");
        assert!(st.cpus >= 1 && st.ctxt > 0 && st.processes > 0 && st.btime > 0);
        assert!(s.meminfo.expect("meminfo").mem_total_kb > 0);
    }
}
