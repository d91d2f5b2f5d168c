//! The `Machine` ↔ column mapping of the tables that store a whole sample's header
//! (`machine_snapshots`, `buffer_samples`), added in v22. Every column is nullable: rows written
//! before v22 read back as a default `Machine`, and the PSI columns are NULL on machines
//! without PSI.

use super::process_columns::{int_at, opt_real_at, real_at, text_at};
use crate::machine::{Machine, PressureSource, Psi, PsiWindows, ResourcePsi};
use rusqlite::types::ValueRef;
use rusqlite::{Row, Statement};

/// The scalar columns, in order.
const SCALARS: [(&str, &str); 16] = [
    ("cpus", "INTEGER"),
    ("cpu_busy", "REAL"),
    ("cpu_iowait", "REAL"),
    ("load1", "REAL"),
    ("procs_running", "INTEGER"),
    ("procs_blocked", "INTEGER"),
    ("forks_rate", "REAL"),
    ("ctxt_rate", "REAL"),
    ("mem_total", "INTEGER"),
    ("mem_available", "INTEGER"),
    ("swap_total", "INTEGER"),
    ("swap_free", "INTEGER"),
    ("pressure_source", "TEXT"),
    ("pressure_cpu", "REAL"),
    ("pressure_memory", "REAL"),
    ("pressure_io", "REAL"),
];

const PSI_RESOURCES: [&str; 3] = ["cpu", "memory", "io"];
const PSI_KINDS: [&str; 2] = ["some", "full"];
/// avg10 (the kernel's), now (last interval), 10s and 60s (windows from the totals).
const PSI_WINDOWS: [&str; 4] = ["avg10", "now", "10s", "60s"];

/// Every machine column as (name, type): the scalars, then `psi_<res>_<kind>_<window>`.
pub fn columns() -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> =
        SCALARS.iter().map(|(n, t)| (n.to_string(), *t)).collect();
    for r in PSI_RESOURCES {
        for k in PSI_KINDS {
            for w in PSI_WINDOWS {
                out.push((format!("psi_{r}_{k}_{w}"), "REAL"));
            }
        }
    }
    out
}

/// `cpus, cpu_busy, …` for INSERT and SELECT lists.
pub(crate) fn list() -> String {
    columns()
        .into_iter()
        .map(|(n, _)| n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `s.cpus, s.cpu_busy, …`: the list with a table prefix, for SELECTs that join.
pub(crate) fn list_of(prefix: &str) -> String {
    columns()
        .into_iter()
        .map(|(n, _)| format!("{prefix}{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How many columns [`bind`] binds.
pub(crate) fn count() -> usize {
    SCALARS.len() + PSI_RESOURCES.len() * PSI_KINDS.len() * PSI_WINDOWS.len()
}

/// `ALTER TABLE <table> ADD COLUMN …;` for every column.
pub(crate) fn add_columns_sql(table: &str) -> String {
    columns()
        .into_iter()
        .map(|(n, t)| format!("ALTER TABLE {table} ADD COLUMN {n} {t};\n"))
        .collect()
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn windows(r: &ResourcePsi) -> [&PsiWindows; 2] {
    [&r.some, &r.full]
}

/// Binds every column starting at `idx`; returns the next free index.
pub(crate) fn bind(
    stmt: &mut Statement<'_>,
    mut idx: usize,
    m: &Machine,
) -> rusqlite::Result<usize> {
    let mut put = |v: &dyn rusqlite::ToSql| -> rusqlite::Result<()> {
        stmt.raw_bind_parameter(idx, v)?;
        idx += 1;
        Ok(())
    };
    put(&m.cpus)?;
    put(&m.cpu_busy)?;
    put(&m.cpu_iowait)?;
    put(&m.load1)?;
    put(&m.procs_running)?;
    put(&m.procs_blocked)?;
    put(&m.forks_rate)?;
    put(&m.ctxt_rate)?;
    put(&int(m.mem_total))?;
    put(&int(m.mem_available))?;
    put(&int(m.swap_total))?;
    put(&int(m.swap_free))?;
    put(&m.pressure_source.as_str())?;
    put(&m.pressure_cpu)?;
    put(&m.pressure_memory)?;
    put(&m.pressure_io)?;
    let resources = m.psi.map(|p| [p.cpu, p.memory, p.io]);
    for i in 0..PSI_RESOURCES.len() {
        for k in 0..PSI_KINDS.len() {
            let w = resources.as_ref().map(|r| *windows(&r[i])[k]);
            put(&w.map(|w| w.avg10))?;
            put(&w.map(|w| w.now))?;
            put(&w.map(|w| w.w10))?;
            put(&w.map(|w| w.w60))?;
        }
    }
    Ok(idx)
}

/// Reads every column starting at `idx` (0-based); NULLs (older rows) read as defaults.
pub(crate) fn read(row: &Row<'_>, idx: usize) -> rusqlite::Result<Machine> {
    let mut i = idx;
    let mut next = || {
        i += 1;
        i - 1
    };
    let u32_of = |v: i64| u32::try_from(v.max(0)).unwrap_or(u32::MAX);
    let u64_of = |v: i64| u64::try_from(v.max(0)).unwrap_or(0);
    let mut m = Machine {
        cpus: u32_of(int_at(row, next())?),
        cpu_busy: real_at(row, next())?,
        cpu_iowait: real_at(row, next())?,
        load1: real_at(row, next())?,
        procs_running: u32_of(int_at(row, next())?),
        procs_blocked: u32_of(int_at(row, next())?),
        forks_rate: real_at(row, next())?,
        ctxt_rate: real_at(row, next())?,
        mem_total: u64_of(int_at(row, next())?),
        mem_available: u64_of(int_at(row, next())?),
        swap_total: u64_of(int_at(row, next())?),
        swap_free: u64_of(int_at(row, next())?),
        pressure_source: match text_at(row, next())?.as_str() {
            "estimate" => PressureSource::Estimate,
            _ => PressureSource::Psi,
        },
        pressure_cpu: real_at(row, next())?,
        pressure_memory: real_at(row, next())?,
        pressure_io: real_at(row, next())?,
        psi: None,
    };
    let first_psi = next();
    let present = !matches!(row.get_ref(first_psi)?, ValueRef::Null);
    let mut at = first_psi;
    let mut res = [ResourcePsi::default(); 3];
    for r in res.iter_mut() {
        for w in [&mut r.some, &mut r.full] {
            w.avg10 = opt_real_at(row, at)?.unwrap_or(0.0);
            w.now = opt_real_at(row, at + 1)?.unwrap_or(0.0);
            w.w10 = opt_real_at(row, at + 2)?.unwrap_or(0.0);
            w.w60 = opt_real_at(row, at + 3)?.unwrap_or(0.0);
            at += 4;
        }
    }
    if present {
        m.psi = Some(Psi {
            cpu: res[0],
            memory: res[1],
            io: res[2],
        });
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::columns::placeholders;
    use rusqlite::Connection;

    fn table(conn: &Connection) {
        let cols: Vec<String> = columns()
            .into_iter()
            .map(|(n, t)| format!("{n} {t}"))
            .collect();
        conn.execute_batch(&format!(
            "CREATE TABLE t (id INTEGER, {});",
            cols.join(", ")
        ))
        .unwrap();
    }

    fn round_trip(m: &Machine) -> Machine {
        let conn = Connection::open_in_memory().unwrap();
        table(&conn);
        let mut stmt = conn
            .prepare(&format!(
                "INSERT INTO t (id, {}) VALUES (1, {})",
                list(),
                placeholders(1, count())
            ))
            .unwrap();
        assert_eq!(bind(&mut stmt, 1, m).unwrap(), count() + 1);
        stmt.raw_execute().unwrap();
        conn.query_row(&format!("SELECT {} FROM t", list()), [], |r| read(r, 0))
            .unwrap()
    }

    #[test]
    fn a_machine_round_trips_with_and_without_psi() {
        let w = |x: f64| PsiWindows {
            avg10: x,
            now: x + 1.0,
            w10: x + 2.0,
            w60: x + 3.0,
        };
        let m = Machine {
            cpus: 2,
            cpu_busy: 1.5,
            cpu_iowait: 0.25,
            load1: 3.5,
            procs_running: 4,
            procs_blocked: 1,
            forks_rate: 1300.0,
            ctxt_rate: 289_000.0,
            mem_total: 24 << 30,
            mem_available: 20 << 30,
            swap_total: 0,
            swap_free: 0,
            psi: Some(Psi {
                cpu: ResourcePsi {
                    some: w(10.0),
                    full: w(0.0),
                },
                memory: ResourcePsi {
                    some: w(20.0),
                    full: w(30.0),
                },
                io: ResourcePsi {
                    some: w(40.0),
                    full: w(50.0),
                },
            }),
            pressure_cpu: 12.0,
            pressure_memory: 22.0,
            pressure_io: 42.0,
            pressure_source: PressureSource::Psi,
        };
        assert_eq!(round_trip(&m), m);
        let no_psi = Machine {
            psi: None,
            pressure_source: PressureSource::Estimate,
            ..m
        };
        assert_eq!(round_trip(&no_psi), no_psi);
        assert_eq!(columns().len(), count());
        assert!(list().contains("psi_memory_full_60s"));
    }

    #[test]
    fn an_old_row_reads_as_a_default_machine() {
        let conn = Connection::open_in_memory().unwrap();
        table(&conn);
        conn.execute_batch("INSERT INTO t (id) VALUES (1);")
            .unwrap();
        let m = conn
            .query_row(&format!("SELECT {} FROM t", list()), [], |r| read(r, 0))
            .unwrap();
        assert_eq!(m, Machine::default());
    }
}
