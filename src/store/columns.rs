//! Rows by name: each stored struct declares its columns once, as a list of [`Column`]s (the
//! column's name, its SQL type, how the field binds, how it reads back). INSERT and SELECT lists,
//! statement parameters and row decoding all come from that list, so a column is added to a
//! struct in one line (plus its migration) instead of in four hand-kept places.
//!
//! Reading is lenient on purpose: rows written by the original (v20) or by hand may hold a REAL
//! where we write an INTEGER, NULL in a column we never leave NULL, or a name we do not know.
//! None of that may make a history query fail, so a [`Codec`] reads every value without error.

use crate::model::{Band, ProcState, Resource};
use rusqlite::types::{Null, ToSqlOutput, Value, ValueRef};
use rusqlite::{Row, Statement};

/// One column of a table that stores `T`.
pub struct Column<T> {
    pub name: &'static str,
    /// The declared type (`INTEGER`, `REAL`, `TEXT`), for the tables whose DDL is generated.
    pub sql_type: &'static str,
    /// The field's value as SQLite stores it (borrowing text, clamping integers to i64).
    pub bind: for<'a> fn(&'a T) -> ToSqlOutput<'a>,
    read: fn(&mut T, ValueRef<'_>),
}

impl<T> Column<T> {
    /// Used by `column!`; `bind` and `read` are plain functions (one direct call per value,
    /// which matters at 45,000 rows × 44 columns a capture).
    pub fn new(
        name: &'static str,
        sql_type: &'static str,
        bind: for<'a> fn(&'a T) -> ToSqlOutput<'a>,
        read: fn(&mut T, ValueRef<'_>),
    ) -> Column<T> {
        Column {
            name,
            sql_type,
            bind,
            read,
        }
    }
}

/// The SQL type codec `C` gives the field `field` reaches (lets `column!` name it without
/// spelling the field's type).
pub fn sql_type<C: Codec<F>, T, F>(_field: for<'a> fn(&'a T) -> &'a F) -> &'static str {
    C::SQL_TYPE
}

/// `column!(Type, field)` stores `field` as its type does ([`Plain`]); `column!(Type, field,
/// Codec)` another way; `column!(Type, "name", field, Codec)` under another column name.
macro_rules! column {
    ($t:ty, $field:ident) => {
        $crate::store::columns::column!($t, $field, $crate::store::columns::Plain)
    };
    ($t:ty, $field:ident, $codec:ty) => {
        $crate::store::columns::column!($t, stringify!($field), $field, $codec)
    };
    ($t:ty, $name:expr, $field:ident, $codec:ty) => {
        $crate::store::columns::Column::<$t>::new(
            $name,
            $crate::store::columns::sql_type::<$codec, $t, _>(|x| &x.$field),
            |x| <$codec as $crate::store::columns::Codec<_>>::bind(&x.$field),
            |x, v| <$codec as $crate::store::columns::Codec<_>>::read(&mut x.$field, v),
        )
    };
}
pub(crate) use column;

/// Declares a table's columns once: the list (names, SQL types, readers) and a binder that binds
/// every field with static calls, for tables written tens of thousands of rows at a time (a
/// capture's ring buffer). Entries are `field`, `field: Codec` or `"name" = field: Codec`.
///
/// `table!(pub static LIST, pub fn binder: Type { cpu, score: Score, ... })`
macro_rules! table {
    (
        $(#[$meta:meta])*
        $vis:vis static $list:ident, $bvis:vis fn $binder:ident: $t:ty {
            $($($col:literal =)? $field:ident $(: $codec:ty)?),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis static $list: std::sync::LazyLock<Vec<$crate::store::columns::Column<$t>>> =
            std::sync::LazyLock::new(|| {
                vec![$(
                    $crate::store::columns::column!(
                        $t,
                        $crate::store::columns::table!(@name $($col)?; $field),
                        $field,
                        $crate::store::columns::table!(@codec $($codec)?)
                    )
                ),*]
            });

        /// Binds every column of the list in order from parameter `idx`; returns the next index.
        $bvis fn $binder(
            stmt: &mut rusqlite::Statement<'_>,
            mut idx: usize,
            x: &$t,
        ) -> rusqlite::Result<usize> {
            $(
                stmt.raw_bind_parameter(
                    idx,
                    <$crate::store::columns::table!(@codec $($codec)?)
                        as $crate::store::columns::Codec<_>>::bind(&x.$field),
                )?;
                idx += 1;
            )*
            Ok(idx)
        }
    };
    (@name $col:literal; $field:ident) => { $col };
    (@name ; $field:ident) => { stringify!($field) };
    (@codec $codec:ty) => { $codec };
    (@codec) => { $crate::store::columns::Plain };
}
pub(crate) use table;

/// `a, b, c` for INSERT and SELECT lists.
pub fn names<T>(columns: &[Column<T>]) -> String {
    columns
        .iter()
        .map(|c| c.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `p.a, p.b, p.c`: the names with a table alias.
pub fn names_of<T>(alias: &str, columns: &[Column<T>]) -> String {
    columns
        .iter()
        .map(|c| format!("{alias}.{}", c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `?first, ?first+1, …`: `n` numbered parameters (1-based).
pub fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `INSERT INTO table (lead…, columns…) VALUES (?1, …)`: the `lead` columns (ids, foreign keys)
/// are bound by the caller first, then [`bind`] binds `columns` after them.
pub fn insert_sql<T>(table: &str, lead: &[&str], columns: &[Column<T>]) -> String {
    let mut list: Vec<&str> = lead.to_vec();
    list.extend(columns.iter().map(|c| c.name));
    format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        list.join(", "),
        placeholders(1, list.len())
    )
}

/// Binds `value`'s columns from parameter `idx` (1-based); returns the next free index.
pub fn bind<'c, T: 'c>(
    stmt: &mut Statement<'_>,
    mut idx: usize,
    columns: impl IntoIterator<Item = &'c Column<T>>,
    value: &T,
) -> rusqlite::Result<usize> {
    for c in columns {
        stmt.raw_bind_parameter(idx, (c.bind)(value))?;
        idx += 1;
    }
    Ok(idx)
}

/// Reads `columns` from `row` starting at column `idx` (0-based) into `value`; returns the next
/// column.
pub fn read<'c, T: 'c>(
    row: &Row<'_>,
    mut idx: usize,
    columns: impl IntoIterator<Item = &'c Column<T>>,
    value: &mut T,
) -> rusqlite::Result<usize> {
    for c in columns {
        (c.read)(value, row.get_ref(idx)?);
        idx += 1;
    }
    Ok(idx)
}

/// Reads a whole `T` (its other fields default) from `row` at `idx`.
pub fn read_new<T: Default>(
    row: &Row<'_>,
    idx: usize,
    columns: &[Column<T>],
) -> rusqlite::Result<T> {
    let mut value = T::default();
    read(row, idx, columns, &mut value)?;
    Ok(value)
}

/// How a field of type `F` is stored in one column and read back leniently.
pub trait Codec<F> {
    const SQL_TYPE: &'static str;
    fn bind(v: &F) -> ToSqlOutput<'_>;
    fn read(into: &mut F, v: ValueRef<'_>);
}

/// A field stored as its type says ([`Stored`]).
pub struct Plain;

impl<F: Stored> Codec<F> for Plain {
    const SQL_TYPE: &'static str = F::SQL_TYPE;
    fn bind(v: &F) -> ToSqlOutput<'_> {
        v.to_sql()
    }
    fn read(into: &mut F, v: ValueRef<'_>) {
        *into = F::from_sql(v);
    }
}

/// The way a field type is stored.
pub trait Stored: Sized {
    const SQL_TYPE: &'static str;
    fn to_sql(&self) -> ToSqlOutput<'_>;
    /// Never fails: NULL and values of the wrong type read as the lenient equivalent.
    fn from_sql(v: ValueRef<'_>) -> Self;
}

/// An integer read leniently: NULL → 0, REAL truncated, numeric text parsed.
pub fn int(v: ValueRef<'_>) -> i64 {
    match v {
        ValueRef::Integer(i) => i,
        ValueRef::Real(f) => f as i64,
        ValueRef::Text(t) => {
            let s = String::from_utf8_lossy(t);
            s.trim()
                .parse::<i64>()
                .or_else(|_| s.trim().parse::<f64>().map(|f| f as i64))
                .unwrap_or(0)
        }
        ValueRef::Null | ValueRef::Blob(_) => 0,
    }
}

/// A REAL read leniently: NULL → 0.
pub fn real(v: ValueRef<'_>) -> f64 {
    match v {
        ValueRef::Integer(i) => i as f64,
        ValueRef::Real(f) => f,
        ValueRef::Text(t) => String::from_utf8_lossy(t).trim().parse().unwrap_or(0.0),
        ValueRef::Null | ValueRef::Blob(_) => 0.0,
    }
}

/// Text read leniently: NULL → None, numbers formatted.
pub fn opt_text(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Null => None,
        ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
    }
}

/// SQLite integers are i64; counters that overflow it are clamped rather than wrapped.
pub fn clamp_u64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn integer(i: i64) -> ToSqlOutput<'static> {
    ToSqlOutput::Owned(Value::Integer(i))
}

fn text(s: &str) -> ToSqlOutput<'_> {
    ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes()))
}

fn null() -> ToSqlOutput<'static> {
    ToSqlOutput::from(Null)
}

impl Stored for f64 {
    const SQL_TYPE: &'static str = "REAL";
    fn to_sql(&self) -> ToSqlOutput<'_> {
        ToSqlOutput::Owned(Value::Real(*self))
    }
    fn from_sql(v: ValueRef<'_>) -> f64 {
        real(v)
    }
}

impl Stored for i64 {
    const SQL_TYPE: &'static str = "INTEGER";
    fn to_sql(&self) -> ToSqlOutput<'_> {
        integer(*self)
    }
    fn from_sql(v: ValueRef<'_>) -> i64 {
        int(v)
    }
}

impl Stored for u64 {
    const SQL_TYPE: &'static str = "INTEGER";
    fn to_sql(&self) -> ToSqlOutput<'_> {
        integer(clamp_u64(*self))
    }
    /// Negative reads as 0.
    fn from_sql(v: ValueRef<'_>) -> u64 {
        u64::try_from(int(v)).unwrap_or(0)
    }
}

impl Stored for u32 {
    const SQL_TYPE: &'static str = "INTEGER";
    fn to_sql(&self) -> ToSqlOutput<'_> {
        integer(i64::from(*self))
    }
    /// Negative reads as 0, too large as `u32::MAX`.
    fn from_sql(v: ValueRef<'_>) -> u32 {
        u32::try_from(int(v).max(0)).unwrap_or(u32::MAX)
    }
}

impl Stored for i32 {
    const SQL_TYPE: &'static str = "INTEGER";
    fn to_sql(&self) -> ToSqlOutput<'_> {
        integer(i64::from(*self))
    }
    /// Out of range reads as 0.
    fn from_sql(v: ValueRef<'_>) -> i32 {
        i32::try_from(int(v)).unwrap_or(0)
    }
}

impl Stored for bool {
    const SQL_TYPE: &'static str = "INTEGER";
    fn to_sql(&self) -> ToSqlOutput<'_> {
        integer(i64::from(*self))
    }
    fn from_sql(v: ValueRef<'_>) -> bool {
        int(v) != 0
    }
}

impl Stored for String {
    const SQL_TYPE: &'static str = "TEXT";
    fn to_sql(&self) -> ToSqlOutput<'_> {
        text(self)
    }
    fn from_sql(v: ValueRef<'_>) -> String {
        opt_text(v).unwrap_or_default()
    }
}

impl Stored for Option<String> {
    const SQL_TYPE: &'static str = "TEXT";
    fn to_sql(&self) -> ToSqlOutput<'_> {
        match self {
            Some(s) => text(s),
            None => null(),
        }
    }
    fn from_sql(v: ValueRef<'_>) -> Option<String> {
        opt_text(v)
    }
}

impl Stored for Option<i64> {
    const SQL_TYPE: &'static str = "INTEGER";
    fn to_sql(&self) -> ToSqlOutput<'_> {
        self.map_or_else(null, integer)
    }
    fn from_sql(v: ValueRef<'_>) -> Option<i64> {
        (v != ValueRef::Null).then(|| int(v))
    }
}

impl Stored for Option<f64> {
    const SQL_TYPE: &'static str = "REAL";
    fn to_sql(&self) -> ToSqlOutput<'_> {
        self.map_or_else(null, |f| ToSqlOutput::Owned(Value::Real(f)))
    }
    fn from_sql(v: ValueRef<'_>) -> Option<f64> {
        (v != ValueRef::Null).then(|| real(v))
    }
}

impl Stored for Option<bool> {
    const SQL_TYPE: &'static str = "INTEGER";
    fn to_sql(&self) -> ToSqlOutput<'_> {
        self.map_or_else(null, |b| integer(i64::from(b)))
    }
    fn from_sql(v: ValueRef<'_>) -> Option<bool> {
        (v != ValueRef::Null).then(|| int(v) != 0)
    }
}

/// Model names are stored as their text; a name we do not know reads as the default.
macro_rules! stored_name {
    ($($t:ty => $unknown:expr),* $(,)?) => {$(
        impl Stored for $t {
            const SQL_TYPE: &'static str = "TEXT";
            fn to_sql(&self) -> ToSqlOutput<'_> {
                text(self.as_str())
            }
            fn from_sql(v: ValueRef<'_>) -> $t {
                opt_text(v).and_then(|s| s.parse().ok()).unwrap_or($unknown)
            }
        }
    )*};
}

stored_name! {
    Band => Band::Low,
    ProcState => ProcState::Unknown,
    Resource => Resource::Cpu,
}

/// An optional field in a NOT NULL column: `None` is stored as `""` or 0 and reads back as
/// `Some` of that (the first columns of `tailspin_header`).
pub struct NotNull;

impl Codec<Option<String>> for NotNull {
    const SQL_TYPE: &'static str = "TEXT";
    fn bind(v: &Option<String>) -> ToSqlOutput<'_> {
        text(v.as_deref().unwrap_or(""))
    }
    fn read(into: &mut Option<String>, v: ValueRef<'_>) {
        *into = Some(String::from_sql(v));
    }
}

impl Codec<Option<i64>> for NotNull {
    const SQL_TYPE: &'static str = "INTEGER";
    fn bind(v: &Option<i64>) -> ToSqlOutput<'_> {
        integer(v.unwrap_or(0))
    }
    fn read(into: &mut Option<i64>, v: ValueRef<'_>) {
        *into = Some(int(v));
    }
}

impl Codec<Option<f64>> for NotNull {
    const SQL_TYPE: &'static str = "REAL";
    fn bind(v: &Option<f64>) -> ToSqlOutput<'_> {
        ToSqlOutput::Owned(Value::Real(v.unwrap_or(0.0)))
    }
    fn read(into: &mut Option<f64>, v: ValueRef<'_>) {
        *into = Some(real(v));
    }
}

/// Text where "" means "not recorded": stored as NULL, NULL reads back as "" (a score's
/// reason, absent in rows written before schema 22).
pub struct EmptyNull;

impl Codec<String> for EmptyNull {
    const SQL_TYPE: &'static str = "TEXT";
    fn bind(v: &String) -> ToSqlOutput<'_> {
        if v.is_empty() { null() } else { text(v) }
    }
    fn read(into: &mut String, v: ValueRef<'_>) {
        *into = String::from_sql(v);
    }
}

/// A score: 0–100 whatever the row holds.
pub struct Score;

impl Codec<u8> for Score {
    const SQL_TYPE: &'static str = "INTEGER";
    fn bind(v: &u8) -> ToSqlOutput<'_> {
        integer(i64::from(*v))
    }
    fn read(into: &mut u8, v: ValueRef<'_>) {
        *into = u8::try_from(int(v).clamp(0, 100)).unwrap_or(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    #[test]
    fn lenient_reads_accept_what_the_original_wrote() {
        let conn = Connection::open_in_memory().unwrap();
        let got = conn
            .query_row("SELECT 42.9, '7', 12, NULL, -3, 'x', 250", [], |r| {
                Ok((
                    int(r.get_ref(0)?),
                    real(r.get_ref(1)?),
                    String::from_sql(r.get_ref(2)?),
                    Option::<i64>::from_sql(r.get_ref(3)?),
                    u64::from_sql(r.get_ref(4)?),
                    Band::from_sql(r.get_ref(5)?),
                    {
                        let mut s = 0u8;
                        Score::read(&mut s, r.get_ref(6)?);
                        s
                    },
                ))
            })
            .unwrap();
        assert_eq!(got, (42, 7.0, "12".into(), None, 0, Band::Low, 100));
    }
}
