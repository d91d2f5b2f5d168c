//! The evidence of one event, for people to look at: gathered from the database once
//! ([`evidence`]), reduced to what a chart can show ([`series`], [`timeline`]), and rendered as
//! a self-contained HTML page ([`html`]) by `rogue-hunter report`, or shown in the dashboard's
//! event view and capture replay (`tui`).
//!
//! Everything but [`evidence::gather`] and [`evidence::capture_charts`] is pure: typed store
//! values in, text out, tested without a database.
//!
//! # What is downsampled, and how
//! The eye cannot tell 500 processes apart in one chart, nor more points than a chart has
//! pixels. So a capture's ring buffer (every process of every sample, ~45,000 rows) becomes:
//! - per chart, the [`series::TOP_SERIES`] processes with the most CPU time (or memory) over
//!   the whole buffer, the event's own process always among them, and the rest summed as one
//!   "other" layer, so the stack's height is still the machine's total;
//! - at most [`series::MAX_POINTS`] points in time: beyond that, consecutive samples are
//!   averaged in equal buckets (an average keeps a stacked area's surface, which is CPU time);
//! - an event's timeline (one snapshot per sample while it is high, possibly thousands) keeps
//!   at most [`timeline::MAX_POINTS`] points, each the *highest* value of its bucket, so no peak
//!   disappears.
//!
//! # Phase B slots
//! What the database of this version does not record yet (the culprit's unit and members, the
//! one-line reason of a score, the machine's pressure, a flame graph of a profile) each come
//! from one function in [`slots`]; while a slot is empty, the report and the dashboard say
//! "not recorded".

pub mod evidence;
pub mod html;
pub mod series;
pub mod slots;
pub mod timeline;

pub use evidence::{CaptureEvidence, EventEvidence, gather};
